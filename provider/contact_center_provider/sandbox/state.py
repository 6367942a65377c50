"""Mutable state of one sandbox app: seed, faults, request log, counters, settings, models."""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from .settings import GlobalSettings, SettingsError, patch_settings
from .vendors import VendorSpec

FaultKind = Literal["status", "reset", "delay", "malformed", "truncated"]
FaultPhase = Literal["before", "after"]
_KINDS = ("status", "reset", "delay", "malformed", "truncated")
_PHASES = ("before", "after")

#: Query parameter names never written to the request log (lower-cased).
_SECRET_QUERY_KEYS = frozenset(
    {
        "client_secret",
        "client_id",
        "password",
        "access_token",
        "refresh_token",
        "token",
        "api_key",
        "apikey",
        "secret",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "sig",
    }
)


class FaultError(ValueError):
    """A fault rule definition is invalid."""


@dataclass
class FaultRule:
    """One fault-injection rule (see ``POST /_sandbox/faults``).

    A rule matches a request by method (``None`` = any) and ``re.search`` of ``path``
    against the request path. It lets the first ``skip`` matches through, then fires
    ``times`` times (``None`` = forever).
    """

    id: str
    path: str
    kind: FaultKind
    method: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int | None = 1
    skip: int = 0
    phase: FaultPhase = "before"
    matched: int = 0
    fired: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """Build and validate a rule from the admin API's JSON body."""
        if not isinstance(data, dict):
            raise FaultError("fault body must be a JSON object")
        known = {"method", "path", "kind", "status", "headers", "body", "delay", "times", "skip", "phase"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault field(s): {', '.join(unknown)}")
        path = data.get("path")
        if not isinstance(path, str):
            raise FaultError("fault 'path' (a regular expression) is required")
        try:
            regex = re.compile(path)
        except re.error as exc:
            raise FaultError(f"fault 'path' is not a valid regular expression: {exc}") from exc
        kind = data.get("kind", "status")
        if kind not in _KINDS:
            raise FaultError(f"fault 'kind' must be one of {list(_KINDS)}")
        phase: FaultPhase = data.get("phase") or "before"
        if phase not in _PHASES:
            raise FaultError(f"fault 'phase' must be one of {list(_PHASES)}")
        method = data.get("method")
        if method is not None and not isinstance(method, str):
            raise FaultError("fault 'method' must be a string or null")
        status = data.get("status")
        if kind == "status" and status is None:
            status = 500
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise FaultError("fault 'status' must be an HTTP status code")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise FaultError("fault 'headers' must be an object of strings")
        delay = data.get("delay", 0.0) or 0.0
        if not isinstance(delay, int | float) or delay < 0:
            raise FaultError("fault 'delay' must be a number >= 0")
        times = data.get("times", 1)
        if times is not None and (not isinstance(times, int) or times < 0):
            raise FaultError("fault 'times' must be an integer >= 0 or null (forever)")
        skip = data.get("skip", 0) or 0
        if not isinstance(skip, int) or skip < 0:
            raise FaultError("fault 'skip' must be an integer >= 0")
        return cls(
            id=uuid.uuid4().hex[:12],
            path=path,
            kind=kind,
            method=method.upper() if method else None,
            status=status,
            headers=dict(headers),
            body=data.get("body"),
            delay=float(delay),
            times=times,
            skip=skip,
            phase=phase,
            _regex=regex,
        )

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to this request (ignores skip/times)."""
        if self.method is not None and self.method != method.upper():
            return False
        assert self._regex is not None
        return self._regex.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        """Serialise for ``GET /_sandbox/faults``."""
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "status": self.status,
            "headers": self.headers,
            "body": self.body,
            "delay": self.delay,
            "times": self.times,
            "skip": self.skip,
            "phase": self.phase,
            "matched": self.matched,
            "fired": self.fired,
        }


@dataclass
class RequestRecord:
    """One logged vendor request. Holds no headers and no body by design."""

    seq: int
    t: float
    method: str
    path: str
    query: dict[str, Any]
    vendor: str | None
    status: int | None = None
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": self.t,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "fault": self.fault,
            "vendor": self.vendor,
        }


def safe_query(items: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Turn query items into a loggable dict: repeated keys become lists, secrets are masked."""
    out: dict[str, Any] = {}
    for key, value in items:
        logged = "***" if key.lower() in _SECRET_QUERY_KEYS else value
        if key in out:
            previous = out[key]
            out[key] = [*previous, logged] if isinstance(previous, list) else [previous, logged]
        else:
            out[key] = logged
    return out


class _Context:
    """The :class:`~.vendors.VendorContext` given to a vendor's model factory."""

    def __init__(self, state: SandboxState, name: str) -> None:
        self._state = state
        self._name = name

    @property
    def seed(self) -> int:
        return self._state.seed

    @property
    def settings(self) -> Any:
        return self._state.vendor_settings[self._name]


class SandboxState:
    """Everything one sandbox app remembers; ``reset()`` clears all of it but the seed."""

    def __init__(self, seed: int, vendors: Iterable[VendorSpec]) -> None:
        self.seed = seed
        self.vendors: dict[str, VendorSpec] = {spec.name: spec for spec in vendors}
        self.faults: list[FaultRule] = []
        self.requests: list[RequestRecord] = []
        self.route_counts: Counter[str] = Counter()
        self.settings = GlobalSettings()
        self.vendor_settings: dict[str, Any] = {}
        self.models: dict[str, Any] = {}
        self._seq = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Forget faults, requests, counters, settings overrides and vendor state."""
        self.faults.clear()
        self.requests.clear()
        self.route_counts.clear()
        self._seq = itertools.count(1)
        self.settings = GlobalSettings()
        for name, spec in self.vendors.items():
            self.vendor_settings[name] = spec.settings_factory()
            self.models[name] = spec.model_factory(_Context(self, name))

    # -- faults -----------------------------------------------------------------------------

    def add_fault(self, data: Any) -> FaultRule:
        rule = FaultRule.from_json(data)
        self.faults.append(rule)
        return rule

    def remove_fault(self, fault_id: str) -> bool:
        before = len(self.faults)
        self.faults[:] = [rule for rule in self.faults if rule.id != fault_id]
        return len(self.faults) != before

    def pick_fault(self, method: str, path: str) -> FaultRule | None:
        """Return the first rule that fires for this request, updating match/fire counts.

        Every matching rule counts the request as a match (so ``skip`` counts requests,
        not turns); only the first eligible rule fires.
        """
        chosen: FaultRule | None = None
        for rule in self.faults:
            if not rule.matches(method, path):
                continue
            rule.matched += 1
            if chosen is not None or rule.matched <= rule.skip:
                continue
            if rule.times is not None and rule.fired >= rule.times:
                continue
            rule.fired += 1
            chosen = rule
        return chosen

    # -- request log ------------------------------------------------------------------------

    def log_request(
        self, method: str, path: str, query: Iterable[tuple[str, str]], vendor: str | None
    ) -> RequestRecord:
        record = RequestRecord(
            seq=next(self._seq),
            t=time.monotonic(),
            method=method,
            path=path,
            query=safe_query(query),
            vendor=vendor,
        )
        self.requests.append(record)
        return record

    # -- settings ---------------------------------------------------------------------------

    def patch_global_settings(self, patch: dict[str, Any]) -> GlobalSettings:
        self.settings = patch_settings(self.settings, patch)
        return self.settings

    def patch_vendor_settings(self, vendor: str, patch: dict[str, Any]) -> Any:
        if vendor not in self.vendors:
            raise SettingsError(
                f"unknown vendor {vendor!r}; known vendors: {', '.join(sorted(self.vendors))}"
            )
        self.vendor_settings[vendor] = patch_settings(self.vendor_settings[vendor], patch)
        return self.vendor_settings[vendor]

    def vendor_for_path(self, path: str) -> VendorSpec | None:
        """The vendor whose base path prefixes ``path`` (longest prefix wins)."""
        best: VendorSpec | None = None
        for spec in self.vendors.values():
            base = spec.base_path
            if (path == base or path.startswith(base + "/")) and (
                best is None or len(base) > len(best.base_path)
            ):
                best = spec
        return best
