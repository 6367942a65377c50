"""In-memory CDDS: tokens, the export history of two scheduled jobs, and their artifacts (no HTTP).

Each job runs every ``run_every_hours`` from 00:00 UTC; the run at T exports ``[T - N h, T)``
as ``export-<id>.zip.smime`` or, with a split size, ``export-<id>.z01.smime`` … plus
``export-<id>.zip.smime``. The history lists one item per file (the deprecated REST API's
``items[]`` carry one ``fileName`` each; how the real service lists the parts of one split
run is not documented).

Artifacts are built on demand and cached per process: the zip parts (cheap to count)
separately from their S/MIME encryption (done when a file is listed or downloaded).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from ..vendors import VendorContext
from . import data
from .errors import api_error, forbidden, invalid_token, oauth_error
from .keys import derived_key_pair
from .settings import CddsSettings
from .smime_writer import encrypt_smime
from .zipwriter import Member, part_suffixes, write_zip

Dataset = Literal["interactions", "contacts"]
JOB_TYPES: dict[Dataset, str] = {"interactions": "Interaction", "contacts": "Contact"}
#: The label of the key pair the sandbox's Airflow connection carries.
TENANT_KEY = "default"
#: Used by ``fault=other_certificate``: a pair the connection does not hold.
OTHER_KEY = "other-tenant"
BOMB_BYTES = 4 * 1024 * 1024


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class ExportKey:
    """Everything an export's contents depend on (the cache key)."""

    seed: int
    title: str
    dataset: Dataset
    run_at: datetime
    period_hours: int
    per_run: int
    split_size: int | None
    fault: str
    extra_field: str | None


@functools.lru_cache(maxsize=4096)
def export_parts(key: ExportKey) -> tuple[str, tuple[tuple[str, bytes], ...]]:
    """The export id and its plaintext zip parts ``(file name, bytes)`` in archive order."""
    export_id = data.export_uuid(key.seed, key.title, key.run_at)
    start = key.run_at - timedelta(hours=key.period_hours)
    make = data.interactions if key.dataset == "interactions" else data.contacts
    records, attached = make(key.seed, key.title, start, key.run_at, key.per_run, key.extra_field)
    entity = JOB_TYPES[key.dataset]
    folder = f"ContactHistory/{entity}"
    members = [Member(f"{folder}/{entity}-{export_id}.json", data.json_lines(records), key.run_at)]
    if attached:
        suffix = "Attachment" if key.dataset == "interactions" else "Attribute"
        members.append(
            Member(f"{folder}/{entity}-{suffix}-{export_id}.json", data.json_lines(attached), key.run_at)
        )
    if key.fault == "traversal":
        members.append(Member(f"../../{entity}-{export_id}.json", b"{}\n", key.run_at))
    elif key.fault == "bomb":
        members.append(Member(f"{folder}/{entity}-Extra-{export_id}.json", b" " * BOMB_BYTES, key.run_at))
    parts = write_zip(members, key.split_size)
    if key.fault == "corrupt_part":
        first = bytearray(parts[0])
        # Damage member data (past the first local header), as a fault at the source would.
        middle = max(64, len(first) // 2)
        first[middle : middle + 8] = bytes(b ^ 0x5A for b in first[middle : middle + 8])
        parts[0] = bytes(first)
    names = [f"export-{export_id}.{suffix}.smime" for suffix in part_suffixes(len(parts))]
    return export_id, tuple(zip(names, parts, strict=True))


@functools.lru_cache(maxsize=8192)
def encrypted(plaintext: bytes, cipher: str, key_label: str) -> bytes:
    pair = derived_key_pair(key_label)
    return encrypt_smime(plaintext, pair.certificate, cipher)  # type: ignore[arg-type]


@dataclass
class Token:
    value: str
    expires_at: float


@dataclass(frozen=True)
class Job:
    """One scheduled CDDS export job."""

    job_id: str
    title: str
    dataset: Dataset


class CddsModel:
    """The CDDS tenant: credentials, two scheduled jobs, their history and files.

    :param ctx: seed and current settings from the framework.
    :param clock: wall-clock seconds (injectable for unit tests).
    """

    def __init__(self, ctx: VendorContext, clock: Callable[[], float] = time.time) -> None:
        self._ctx = ctx
        self._clock = clock
        self._tokens: dict[str, Token] = {}
        self._expired_for: CddsSettings | None = None
        self._listings: Counter[tuple[str, datetime]] = Counter()

    @property
    def settings(self) -> CddsSettings:
        settings: CddsSettings = self._ctx.settings
        return settings

    # -- credentials -------------------------------------------------------------------
    def check_api_key(self, value: str | None) -> None:
        if not value or not secrets.compare_digest(value, self.settings.api_key):
            raise forbidden()

    def issue_token(self, basic: tuple[str, str] | None, form: dict[str, str]) -> dict[str, Any]:
        """Password grant: client in HTTP Basic (or the form), ``username``/``password`` in the form."""
        settings = self.settings
        if form.get("grant_type") != "password":
            raise oauth_error(
                400, "unsupported_grant_type", f"Unsupported grant type: {form.get('grant_type')}"
            )
        client_id, client_secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != settings.client_id or not secrets.compare_digest(
            client_secret, settings.client_secret
        ):
            raise oauth_error(401, "invalid_client", "Bad client credentials")
        username = form.get("username", "")
        bare_user = settings.username.rsplit("\\", 1)[-1]
        if username not in (settings.username, bare_user) or not secrets.compare_digest(
            form.get("password", ""), settings.password
        ):
            raise oauth_error(400, "invalid_grant", "Bad credentials")
        value = secrets.token_urlsafe(32)
        self._tokens[value] = Token(value, self._clock() + settings.token_ttl_seconds)
        return {
            "access_token": value,
            "token_type": "bearer",
            "expires_in": settings.token_ttl_seconds,
            "scope": "*",
        }

    def authenticate(self, header: str | None) -> None:
        settings = self.settings
        if settings.expire_tokens_now and self._expired_for is not settings:
            self._expired_for = settings
            for issued in self._tokens.values():
                issued.expires_at = min(issued.expires_at, self._clock() - 1)
        if not header or not header.lower().startswith("bearer "):
            raise invalid_token("Full authentication is required to access this resource")
        token = self._tokens.get(header[7:].strip())
        if token is None:
            raise invalid_token("Invalid access token")
        if token.expires_at <= self._clock():
            raise invalid_token("Access token expired")

    # -- jobs and runs -------------------------------------------------------------------
    def jobs(self) -> list[Job]:
        settings = self.settings
        seed = self._ctx.seed
        return [
            Job(
                data.export_uuid(seed, settings.interaction_job_title, datetime(2000, 1, 1, tzinfo=UTC)),
                settings.interaction_job_title,
                "interactions",
            ),
            Job(
                data.export_uuid(seed, settings.contact_job_title, datetime(2000, 1, 1, tzinfo=UTC)),
                settings.contact_job_title,
                "contacts",
            ),
        ]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _run_times(self) -> list[datetime]:
        settings = self.settings
        now = self._now()
        first = parse_utc(settings.first_run)
        if settings.retention_days is not None:
            oldest = now - timedelta(days=settings.retention_days)
            step = timedelta(hours=settings.run_every_hours)
            if oldest > first:
                first += step * -(-(oldest - first) // step)
        return list(data.iter_run_times(first, timedelta(hours=settings.run_every_hours), now))

    def _export_key(self, job: Job, run_at: datetime) -> ExportKey:
        settings = self.settings
        interactions = job.dataset == "interactions"
        return ExportKey(
            seed=self._ctx.seed,
            title=job.title,
            dataset=job.dataset,
            run_at=run_at,
            period_hours=settings.run_every_hours,
            per_run=settings.interactions_per_run if interactions else settings.contacts_per_run,
            split_size=settings.interaction_split_size_bytes
            if interactions
            else settings.contact_split_size_bytes,
            fault=settings.fault,
            extra_field=settings.extra_field,
        )

    def _visible_parts(self, job: Job, run_at: datetime) -> list[tuple[str, bytes]]:
        _, parts = export_parts(self._export_key(job, run_at))
        visible = list(parts)
        if self.settings.fault == "withhold_last_part" and len(visible) > 2:
            del visible[-2]
        return visible

    def _key_label(self) -> str:
        return OTHER_KEY if self.settings.fault == "other_certificate" else TENANT_KEY

    # -- history ------------------------------------------------------------------------
    def history(self, title: str | None, size: int, order_field: str, descending: bool) -> dict[str, Any]:
        """``GET /data-download/v4/export/history``: every file of every run of the matching jobs."""
        if order_field not in ("createdDate", "id"):
            raise api_error(400, f"Unsupported orderField: {order_field}")
        wanted = (title or "").lower()
        runs = [
            (job, run_at)
            for job in self.jobs()
            if wanted in job.title.lower()
            for run_at in self._run_times()
        ]
        runs.sort(key=lambda item: (item[1], item[0].title), reverse=descending)
        items: list[dict[str, Any]] = []
        count = 0
        for job, run_at in runs:
            pending = self._listings[(job.title, run_at)] < self.settings.polls_until_complete
            parts = [("", b"")] if pending else self._visible_parts(job, run_at)
            for index, (name, plaintext) in enumerate(parts):
                count += 1
                if len(items) >= size:
                    continue
                self._listings[(job.title, run_at)] += 1 if index == 0 else 0
                items.append(self._item(job, run_at, index, name, plaintext, pending))
        return {"data": {"count": count, "size": size, "items": items}}

    def _item(
        self, job: Job, run_at: datetime, index: int, name: str, plaintext: bytes, pending: bool
    ) -> dict[str, Any]:
        file_size = 0 if pending else len(encrypted(plaintext, self.settings.cipher, self._key_label()))
        return {
            # Increasing with creation, unique per file (the client compares ids with '>').
            "id": int(run_at.timestamp()) // 60 * 1000
            + (0 if job.dataset == "interactions" else 500)
            + index,
            "jobId": job.job_id,
            "title": job.title,
            "dataSource": "Contact History",
            "jobType": JOB_TYPES[job.dataset],
            "status": "IN_PROGRESS" if pending else "COMPLETED",
            "createdDate": data.iso(run_at),
            "fileName": name,
            "fileSize": file_size,
        }

    # -- files -------------------------------------------------------------------------
    def file(self, file_name: str) -> bytes:
        """``GET /data-download/v3/files/{fileName}``: the encrypted artifact."""
        for job in self.jobs():
            for run_at in self._run_times():
                export_id = data.export_uuid(self._ctx.seed, job.title, run_at)
                if export_id not in file_name:
                    continue
                for name, plaintext in self._visible_parts(job, run_at):
                    if name == file_name:
                        return encrypted(plaintext, self.settings.cipher, self._key_label())
        raise api_error(404, f"File {file_name} not found")
