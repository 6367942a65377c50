"""The emulated Context Services server: filters, exports to files, the JSON stream (no HTTP).

Methods take parsed values and return JSON-ready data or raise :class:`~.errors.GmsApiError`;
``routes.py`` moves them on and off the wire.

Filter semantics follow the CS "Export Features" page: a service is exported when one of
its events selected by ``filter_events`` (start, end, or either) falls in the range, and
``filter_state`` is evaluated on the service's state at the server's "now" (the export
time), not over the range. The range is taken as ``[time_from, time_to)``: the document
does not say whether the ends are inclusive.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..vendors import VendorContext
from .data import ServiceView, iter_services, view_at
from .errors import GmsApiError
from .files import append_file, compress, file_names, inner_name, render_csv, render_json, write_file
from .settings import FILE_TYPES, GmsSettings

FILTER_EVENTS = ("any", "started", "completed")
FILTER_STATES = ("any", "active", "inactive")
COMPRESSIONS = ("uncompressed", "zip", "gzip")
FORMATS = ("csv", "json")
REJECTED_PASSWORD = "wrong-password"


def parse_time(value: str | None, name: str) -> datetime:
    if not value:
        raise GmsApiError(400, f"Parameter '{name}' is mandatory")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise GmsApiError(400, f"Parameter '{name}' is not a valid date/time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = (query.get(name) or allowed[0]).strip().lower()
    if value not in allowed:
        raise GmsApiError(400, f"Parameter '{name}' must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class ExportRecord:
    """One export the server ran (for ``/_sandbox/counters`` and tests)."""

    token: str
    params: dict[str, str]
    files: dict[str, str]
    services: int
    states: int
    tasks: int


@dataclass
class GmsModel:
    """State of the emulated server: exports run and file writes still pending."""

    ctx: VendorContext
    exports: list[ExportRecord] = field(default_factory=list)
    #: absolute path -> bytes still to be written (``partial_write``).
    pending: dict[str, bytes] = field(default_factory=dict)
    _tokens: set[str] = field(default_factory=set)

    @property
    def settings(self) -> GmsSettings:
        settings: GmsSettings = self.ctx.settings
        return settings

    # -- auth ------------------------------------------------------------------------------
    def authenticate(self, header: str | None) -> None:
        """HTTP Basic, as a GMS with authentication enabled expects it."""
        settings = self.settings
        if not header:
            if settings.require_auth:
                raise GmsApiError(401)
            return
        scheme, _, encoded = header.partition(" ")
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise GmsApiError(401) from None
        if scheme.lower() != "basic" or password == REJECTED_PASSWORD:
            raise GmsApiError(401)
        if settings.required_username is not None and username != settings.required_username:
            raise GmsApiError(401)
        if settings.required_password is not None and password != settings.required_password:
            raise GmsApiError(401)

    # -- selection ---------------------------------------------------------------------------
    def now(self) -> datetime:
        clock = self.settings.clock
        return parse_time(clock, "clock") if clock else datetime.now(UTC)

    def select(self, query: Mapping[str, str], now: datetime) -> list[ServiceView]:
        """Services matching the event and state filters, in start order."""
        start = parse_time(query.get("time_from"), "time_from")
        end = parse_time(query["time_to"], "time_to") if query.get("time_to") else now
        if end < start:
            raise GmsApiError(400, "Parameter 'time_to' is before 'time_from'")
        events = _choice(query, "filter_events", FILTER_EVENTS)
        state = _choice(query, "filter_state", FILTER_STATES)
        from_ms, to_ms, now_ms = _ms(start), _ms(end), _ms(now)
        selected = []
        for generated in iter_services(self.ctx.seed, from_ms, to_ms, self.settings.services_per_hour):
            view = view_at(generated, now_ms)
            if view is None:
                continue
            started = from_ms <= view.start_ms < to_ms
            ended = view.end_ms is not None and from_ms <= view.end_ms < to_ms
            if not (started or ended if events == "any" else started if events == "started" else ended):
                continue
            active = view.end_ms is None
            if (state == "active" and not active) or (state == "inactive" and active):
                continue
            selected.append(view)
        return selected

    # -- POST /maintenance/services/files ----------------------------------------------------
    def _token(self, now: datetime, export_dir: str, prefix_name: str) -> str:
        ms = _ms(now)
        while True:
            moment = datetime.fromtimestamp(ms / 1000, UTC)
            token = moment.strftime("%Y%m%d_%H%M%S_") + f"{ms % 1000:03d}"
            taken = token in self._tokens or any(
                name.startswith(prefix_name + token) for name in _listdir(export_dir)
            )
            if not taken:
                self._tokens.add(token)
                return token
            ms += 1

    def export_files(self, query: Mapping[str, str], export_dir: str) -> list[str]:
        """Run an export; return the server paths of the files, as the answer lists them."""
        file_prefix = query.get("file_prefix")
        if not file_prefix:
            raise GmsApiError(400, "Parameter 'file_prefix' is mandatory")
        fmt = _choice(query, "format", FORMATS)
        compression = _choice(query, "compression", COMPRESSIONS)
        separator = query.get("separator", ",")
        if separator == "":
            raise GmsApiError(400, "Parameter 'separator' must not be empty")
        settings = self.settings
        now = self.now()
        views = self.select(query, now)
        records = {
            "services": [v.service for v in views],
            "states": [s for v in views for s in v.states],
            "tasks": [t for v in views for t in v.tasks],
        }
        # Only the last path segment of file_prefix names the files; the sandbox's export
        # folder stands for whatever directory the prefix names on the server.
        prefix_name = file_prefix.replace("\\", "/").rsplit("/", 1)[-1]
        token = self._token(now, export_dir, prefix_name)
        names = file_names(prefix_name, token, fmt, compression, settings)
        server_dir = file_prefix[: len(file_prefix) - len(prefix_name)]
        for kind in FILE_TYPES:
            if kind in settings.missing_files:
                continue
            raw = (
                render_json(records[kind], settings)
                if fmt == "json"
                else render_csv(kind, records[kind], separator, settings)
            )
            data = compress(raw, compression, inner_name(names[kind], compression, fmt))
            path = os.path.join(export_dir, names[kind])
            if settings.partial_write == "off":
                write_file(path, data)
            else:
                half = len(data) // 2
                write_file(path, data[:half])
                self.pending[path] = data[half:]
        self.exports.append(
            ExportRecord(
                token,
                dict(query),
                dict(names),
                len(records["services"]),
                len(records["states"]),
                len(records["tasks"]),
            )
        )
        return [server_dir + names[kind] for kind in FILE_TYPES]

    def finish_writes(self) -> dict[str, Any]:
        """Write the rest of every partially written file."""
        done = sorted(self.pending)
        for path in done:
            append_file(path, self.pending.pop(path))
        return {"finished": [os.path.basename(p) for p in done]}

    # -- GET /maintenance/services/stream ---------------------------------------------------
    def stream(self, query: Mapping[str, str]) -> list[Any]:
        """Service ids (or whole services with ``export_content=true``) matching the filters."""
        content = (query.get("export_content") or "false").strip().lower() == "true"
        if not content and (query.get("filter_state") or "any").lower() != "any":
            raise GmsApiError(400, "Parameter 'filter_state' can only be used with export_content=true")
        views = self.select(query, self.now())
        if content:
            return [{**v.service, "states": v.states, "tasks": v.tasks} for v in views]
        return [v.service["service_id"] for v in views]

    def job_counters(self) -> dict[str, Any]:
        return {
            "exports": len(self.exports),
            "pending_writes": len(self.pending),
            "last": None
            if not self.exports
            else {
                "files": self.exports[-1].files,
                "services": self.exports[-1].services,
                "states": self.exports[-1].states,
                "tasks": self.exports[-1].tasks,
                "params": self.exports[-1].params,
            },
        }


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
