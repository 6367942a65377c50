"""Pure logic of the CDDS hook: history items, which export belongs to an interval, and its state.

CDDS has no API to start an export: jobs are scheduled in its console and each run
leaves files (artifacts). So an "artifact job" for an interval is the *expected* export,
and its state is read from what exists:

* **REST API** (deprecated but working): ``GET /data-download/v4/export/history`` lists
  items ``{id, title, fileName, fileSize, ...}``; the items of the CDDS job whose title the
  DAG names, *created* inside the interval's window, are its files.
* **A location** (``s3://…``, ``file://…``; a site whose own process drops artifacts):
  the files under a per-interval prefix are its files.

:func:`judge` turns the files seen into a :class:`~contact_center_provider.jobs.JobStatus`:
RUNNING until an export's split set is complete (``.z01`` … ``.zNN`` and ``.zip``),
SUCCEEDED then. Shared by the sync and async hook methods; no I/O here.

Not documented (kept configurable, see the hook): the history item fields besides
``id/title/fileName/fileSize`` (we read ``createdDate`` and ``status`` when present),
the status words, whether a split run lists one item per part (we accept that and
whole-set items alike), and which data a scheduled run exports (we take the run created
in ``[interval end, interval end + created_window)``; the default window is the
interval's length, so a job scheduled every N hours matches an N-hour DAG).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contact_center_provider.http.errors import ErrorInfo, default_error_parser
from contact_center_provider.jobs import JobOutcome, JobStatus, map_state
from contact_center_provider.transforms.split_zip import SplitSet, group_parts

VENDOR = "genesys_cdds"
HISTORY_PATH = "/data-download/v4/export/history"
FILES_PATH = "/data-download/v3/files/"
TOKEN_PATH = "/auth/v3/oauth/token"
#: Datasets (CDDS job types) and the history ``jobType`` each one shows.
DATASETS = ("interactions", "contacts")
#: CDDS deletes files after this many days (vendor guide).
RETENTION_DAYS = 30
DEFAULT_HISTORY_SIZE = 1000
MAX_HISTORY_SIZE = 20000

#: History item statuses -> outcome. The words are not documented: the ones below are the
#: History page's ("In Progress", completed, failed) in the spellings an API may use. An
#: item without a status counts as complete once it has a file name (as the Genesys
#: engineer's client treats it); an unknown word stops the wait naming it.
HISTORY_STATES: dict[str, JobOutcome] = {
    **dict.fromkeys(
        ("IN_PROGRESS", "INPROGRESS", "IN PROGRESS", "RUNNING", "QUEUED", "PENDING", "SCHEDULED", "STARTED"),
        JobOutcome.RUNNING,
    ),
    **dict.fromkeys(
        ("COMPLETED", "COMPLETE", "DONE", "SUCCESS", "SUCCEEDED", "FINISHED"), JobOutcome.SUCCEEDED
    ),
    **dict.fromkeys(("FAILED", "FAILURE", "ERROR"), JobOutcome.FAILED),
    **dict.fromkeys(("CANCELLED", "CANCELED", "STOPPED", "ABORTED"), JobOutcome.CANCELLED),
    **dict.fromkeys(("EXPIRED", "DELETED"), JobOutcome.EXPIRED),
}


def parse_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def error_parser(status: int, headers: Mapping[str, str], body: bytes) -> ErrorInfo:
    """CDDS errors: ``{"status": {"code", "message"}}`` besides the common OAuth/gateway shapes."""
    try:
        payload = json.loads(body) if body.strip() else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("status"), dict):
        inner = payload["status"]
        message = inner.get("message")
        code = inner.get("code")
        return ErrorInfo(
            code=str(code) if code is not None else None,
            message=str(message) if message is not None else json.dumps(inner)[:500],
        )
    return default_error_parser(status, headers, body)


@dataclass(frozen=True)
class HistoryItem:
    """One history item (one file of a run, or a run still in progress)."""

    id: Any
    title: str
    file_name: str
    file_size: int | None
    created: datetime | None
    status: str | None


@dataclass(frozen=True)
class HistoryPage:
    items: tuple[HistoryItem, ...]
    count: int
    size: int


def history_params(title: str, size: int) -> dict[str, Any]:
    """Query of a history listing: newest first (``descAsc=true`` means descending)."""
    return {"orderField": "createdDate", "descAsc": "true", "title": title, "size": size}


def parse_history(payload: Any) -> HistoryPage:
    """Read ``{"data": {"count", "size", "items": [...]}}``.

    :raises ValueError: the body has another shape (names what is missing).
    """
    data = payload.get("data") if isinstance(payload, Mapping) else None
    if not isinstance(data, Mapping) or not isinstance(data.get("items"), list):
        raise ValueError("history response has no data.items list")
    items = []
    for raw in data["items"]:
        if not isinstance(raw, Mapping):
            raise ValueError("history item is not a JSON object")
        created = raw.get("createdDate")
        size = raw.get("fileSize")
        status = raw.get("status")
        items.append(
            HistoryItem(
                id=raw.get("id"),
                title=str(raw.get("title") or ""),
                file_name=str(raw.get("fileName") or ""),
                file_size=int(size) if isinstance(size, int | float) and not isinstance(size, bool) else None,
                created=parse_instant(created) if isinstance(created, str) and created.strip() else None,
                status=str(status) if status is not None else None,
            )
        )
    count = data.get("count")
    size = data.get("size")
    return HistoryPage(
        tuple(items),
        int(count) if isinstance(count, int) else len(items),
        int(size) if isinstance(size, int) else len(items),
    )


def created_window(
    start: datetime, end: datetime, *, offset: timedelta = timedelta(0), length: timedelta | None = None
) -> tuple[datetime, datetime]:
    """When the run exporting ``[start, end)`` is created: ``[end + offset, end + offset + length)``."""
    low = end + offset
    return low, low + (length if length is not None else end - start)


def needs_more_history(page: HistoryPage, window_low: datetime) -> bool:
    """Whether items older than the newest returned ones were cut off and may hold the window."""
    if page.count <= len(page.items):
        return False
    dated = [item.created for item in page.items if item.created is not None]
    return not dated or min(dated) >= window_low


@dataclass(frozen=True)
class Candidate:
    """One export seen for an interval: its parts (by name) and their history items."""

    split_set: SplitSet
    items: tuple[HistoryItem, ...]

    @property
    def created(self) -> datetime | None:
        dates = [i.created for i in self.items if i.created is not None]
        return max(dates) if dates else None


def select_items(
    items: Iterable[HistoryItem], title: str, window: tuple[datetime, datetime], *, exact_title: bool = True
) -> list[HistoryItem]:
    """The items of the job ``title`` created inside ``window`` (items without a date never match)."""
    low, high = window
    wanted = title if exact_title else title.lower()
    chosen = []
    for item in items:
        name = item.title if exact_title else item.title.lower()
        matches = name == wanted if exact_title else wanted in name
        if matches and item.created is not None and low <= item.created < high:
            chosen.append(item)
    return chosen


def _outcome(item: HistoryItem, job_id: str) -> JobOutcome:
    if item.status is None or not item.status.strip():
        return JobOutcome.SUCCEEDED if item.file_name else JobOutcome.RUNNING
    return map_state(HISTORY_STATES, item.status.strip(), vendor=VENDOR, job_id=job_id)


def judge(
    job_id: str,
    items: Sequence[HistoryItem],
    *,
    expired_since: datetime | None = None,
    export: str | None = None,
    single_export: bool = False,
) -> JobStatus:
    """The state of the expected export from the items seen for its interval.

    :param job_id: the artifact job's id (for errors).
    :param items: the interval's items (REST) or its files as items (location).
    :param expired_since: when set and nothing was found, the files would have been deleted
        (retention) since then: EXPIRED instead of waiting for ever.
    :param export: pick this export (``export-<id>``) when several are seen.
    :param single_export: several exports are an error (a location has no creation dates to
        tell which is the interval's); otherwise the newest is taken.
    """
    outcomes = [(_outcome(item, job_id), item) for item in items]
    for outcome, item in outcomes:
        if outcome in (JobOutcome.FAILED, JobOutcome.CANCELLED, JobOutcome.EXPIRED):
            return JobStatus(
                job_id,
                outcome,
                vendor_state=item.status,
                message=f"CDDS history item {item.id} ({item.title}) is {item.status}",
            )
    pending = [item for outcome, item in outcomes if outcome is JobOutcome.RUNNING or not item.file_name]
    named = {item.file_name: item for _, item in outcomes if item.file_name}
    if not named:
        if pending:
            return JobStatus(job_id, JobOutcome.RUNNING, vendor_state=pending[0].status or "IN_PROGRESS")
        if expired_since is not None:
            return JobStatus(
                job_id,
                JobOutcome.EXPIRED,
                vendor_state="NOT_FOUND",
                message=f"no export was found, and CDDS deletes files {RETENTION_DAYS} days after an "
                f"export (since {format_instant(expired_since)} for this interval)",
            )
        return JobStatus(job_id, JobOutcome.RUNNING, vendor_state="NO_EXPORT_YET")
    sets, others = group_parts(named)
    candidates = [
        Candidate(s, tuple(named[p.name] for p in s.ordered()))
        for base, s in sets.items()
        if not export or base == export
    ]
    if not candidates:
        return JobStatus(
            job_id, JobOutcome.RUNNING, vendor_state="NO_EXPORT_YET", details={"ignored": others}
        )
    undated = datetime.min.replace(tzinfo=UTC)
    candidates.sort(key=lambda c: (c.created or undated, c.split_set.base))
    if single_export and len(candidates) > 1:
        names = ", ".join(c.split_set.base for c in candidates)
        return JobStatus(
            job_id,
            JobOutcome.FAILED,
            vendor_state="SEVERAL_EXPORTS",
            message=f"several exports are present ({names}); pass export_id to choose one",
        )
    chosen = candidates[-1]
    missing = chosen.split_set.missing()
    details: dict[str, Any] = {
        "export": chosen.split_set.base,
        "files": [p.name for p in chosen.split_set.ordered()],
    }
    if len(candidates) > 1:
        details["other_exports"] = [c.split_set.base for c in candidates[:-1]]
    if others:
        details["ignored"] = others
    if missing or pending:
        state = f"PARTS_MISSING ({', '.join(missing)})" if missing else "IN_PROGRESS"
        return JobStatus(job_id, JobOutcome.RUNNING, vendor_state=state, details=details)
    details["bytes"] = {p.name: named[p.name].file_size for p in chosen.split_set.ordered()}
    created = chosen.created
    if created is not None:
        details["created"] = format_instant(created)
    return JobStatus(job_id, JobOutcome.SUCCEEDED, vendor_state="COMPLETE", details=details)


def artifact_params(
    *,
    job_title: str | None = None,
    location_uri: str | None = None,
    location_conn_id: str | None = None,
    export_id: str | None = None,
    title_match: str = "exact",
    created_offset_seconds: float = 0,
    created_window_seconds: float | None = None,
) -> dict[str, Any]:
    """The ``job_params`` of an artifact job, checked at DAG parse time (values may be templates).

    :raises ValueError: neither or both of ``job_title`` and ``location_uri``; a bad ``title_match``.
    """
    if bool(job_title) == bool(location_uri):
        raise ValueError(
            "Genesys CDDS: give exactly one of job_title (follow a CDDS job through the REST API) "
            "and location_uri (collect artifacts dropped at a location)"
        )
    if title_match not in ("exact", "contains"):
        raise ValueError(f"title_match must be 'exact' or 'contains', got {title_match!r}")
    if created_window_seconds is not None and created_window_seconds <= 0:
        raise ValueError("created_window_seconds must be positive")
    params: dict[str, Any] = {
        "job_title": job_title,
        "location_uri": location_uri,
        "location_conn_id": location_conn_id,
        "export_id": export_id,
        "title_match": title_match,
        "created_offset_seconds": created_offset_seconds,
        "created_window_seconds": created_window_seconds,
    }
    return {key: value for key, value in params.items() if value is not None}
