"""Genesys Multicloud CX Cloud Data Download Service (CDDS): contact-history artifacts.

CDDS exports on a schedule set in its console; there is no API to start an export. Each
run leaves S/MIME-encrypted zip artifacts (``export-<id>.zip.smime``, or a split set
``export-<id>.z01.smime`` … plus ``export-<id>.zip.smime``), kept 30 days. This hook maps
that onto the job contract (:mod:`contact_center_provider.jobs`) as an *artifact job*
per interval:

* :meth:`~GenesysCddsHook.submit_job` creates nothing at the vendor: it returns the
  :class:`~contact_center_provider.jobs.JobRef` of the interval's expected export;
* :meth:`~GenesysCddsHook.get_job_status` (and its async twin) reports RUNNING until that
  export's files are listed and its split set is complete, then SUCCEEDED;
* :meth:`~GenesysCddsHook.land_result` downloads every part, unchanged, into the raw zone.

Where the files are found: the (deprecated, still served) REST API —
``GET /data-download/v4/export/history`` and ``GET /data-download/v3/files/{fileName}``
with ``x-api-key`` and a password-grant bearer token — or, for sites whose own process
drops the artifacts elsewhere, a location URI (``s3://``, ``gs://``, ``azure://``,
``file://``) read through :mod:`contact_center_provider.storage.uri`.

Decryption needs the private key of the certificate uploaded to CDDS; it comes from the
connection (which may live in any Airflow secrets backend) and is never written to disk
(:meth:`~GenesysCddsHook.smime_key`, :mod:`contact_center_provider.transforms.smime`).

Connection (type ``genesys_cdds``): login ``TENANT\\user`` (or ``user``), password; extra
``api_key`` (sent as ``x-api-key``), ``client_id``, ``client_secret``, ``region``
(``euw1`` -> ``https://gapi-euw1.genesyscloud.com``) or ``api_base_url``, ``private_key``
(PEM), ``certificate`` (PEM), optional ``private_key_passphrase``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

from contact_center_provider.hooks import genesys_cdds_history as hist
from contact_center_provider.hooks.base import ClientConfig, VendorHook, connection_extras
from contact_center_provider.http.auth import OAuth2PasswordGrant, mask_secret
from contact_center_provider.http.errors import VendorResponseError
from contact_center_provider.jobs import JobOutcome, JobRef, JobStatus, LandingSink, job_ref
from contact_center_provider.storage.uri import join_uri, list_uris, open_uri
from contact_center_provider.transforms.smime import SmimeKey, load_smime_key
from contact_center_provider.transforms.split_zip import parse_part_name

#: Chunk size of downloads and copies into the raw zone.
COPY_CHUNK = 1 << 20


def _when(value: str | None) -> datetime | None:
    return hist.parse_instant(value) if value else None


class GenesysCddsHook(VendorHook):
    """Find, wait for and collect CDDS export artifacts; hand out the decryption key.

    :param genesys_cdds_conn_id: connection of type ``genesys_cdds``.
    :param history_size: ``size`` of a history listing (newest first). When the listing is
        cut off before the interval, the hook asks once more for everything, up to
        ``max_history_size`` items.
    :param max_history_size: the most items one listing may ask for.
    :param retention_days: CDDS deletes files after 30 days: an interval whose export would
        be older and is not found ends EXPIRED instead of waiting. ``None`` never gives up.
    """

    conn_name_attr = "genesys_cdds_conn_id"
    default_conn_name = "genesys_cdds_default"
    conn_type = "genesys_cdds"
    hook_name = "Genesys CDDS"
    vendor: ClassVar[str] = hist.VENDOR

    def __init__(
        self,
        genesys_cdds_conn_id: str = default_conn_name,
        *,
        history_size: int = hist.DEFAULT_HISTORY_SIZE,
        max_history_size: int = hist.MAX_HISTORY_SIZE,
        retention_days: int | None = hist.RETENTION_DAYS,
        **kwargs: Any,
    ) -> None:
        super().__init__(genesys_cdds_conn_id, **kwargs)
        if history_size < 1 or max_history_size < history_size:
            raise ValueError("history_size must be >= 1 and <= max_history_size")
        self.history_size = history_size
        self.max_history_size = max_history_size
        self.retention_days = retention_days
        self._smime_key: SmimeKey | None = None

    # -- connection ------------------------------------------------------------------------
    @staticmethod
    def api_base_url(conn: Any, extras: Mapping[str, Any]) -> str:
        if extras.get("api_base_url"):
            return str(extras["api_base_url"]).rstrip("/")
        region = str(extras.get("region") or "").strip().lower().removeprefix("gapi-")
        if not region:
            raise ValueError(
                f"Connection {conn.conn_id!r} (Genesys CDDS): set region (e.g. euw1, usw1) or api_base_url"
            )
        return f"https://gapi-{region}.genesyscloud.com"

    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        missing = [
            name
            for name, value in (
                ("login", conn.login),
                ("password", conn.password),
                ("api_key", extras.get("api_key")),
                ("client_id", extras.get("client_id")),
                ("client_secret", extras.get("client_secret")),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"Connection {conn.conn_id!r} (Genesys CDDS): missing {', '.join(missing)}")
        base = self.api_base_url(conn, extras)
        api_key = str(extras["api_key"])
        mask_secret(api_key)
        auth = OAuth2PasswordGrant(
            f"{base}{hist.TOKEN_PATH}",
            conn.login,
            conn.password,
            client_id=str(extras["client_id"]),
            client_secret=str(extras["client_secret"]),
            vendor=self.vendor,
            credentials_in="basic",
            # The Genesys engineer's client sends the client id in the form as well as in Basic.
            extra_form={"client_id": str(extras["client_id"])},
            extra_headers={"x-api-key": api_key},
        )
        return ClientConfig(
            base_url=base, auth=auth, headers={"x-api-key": api_key}, error_parser=hist.error_parser
        )

    def smime_key(self) -> SmimeKey:
        """The private key and certificate from the connection, checked to be a pair (memory only)."""
        if self._smime_key is None:
            conn = self.get_connection(self.conn_id)
            extras = connection_extras(conn)
            key, passphrase = extras.get("private_key") or "", extras.get("private_key_passphrase")
            for secret in (key, passphrase):
                if secret:
                    mask_secret(str(secret))
            self._smime_key = load_smime_key(
                key, extras.get("certificate") or "", passphrase, source=f"Connection {self.conn_id!r}"
            )
        return self._smime_key

    def check_connection(self) -> str:
        page = self._history_page("", 1)
        text = f"Connected to Genesys CDDS: {page.count} export history items visible"
        extras = connection_extras(self.get_connection(self.conn_id))
        if extras.get("private_key") or extras.get("certificate"):
            text += f"; decryption key matches certificate {self.smime_key().describe()}"
        return text

    # -- the artifact job ----------------------------------------------------------------
    def submit_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef:
        """Return the reference of the interval's expected export; nothing is created at CDDS.

        :param kind: ``"interactions"`` or ``"contacts"`` (the CDDS job's type).
        :param params: ``job_title`` (the CDDS job to follow; or ``location_uri`` and optional
            ``location_conn_id``), ``title_match`` (``"exact"``/``"contains"``), ``export_id``
            (pick one export), ``created_offset_seconds`` / ``created_window_seconds`` (when the
            run exporting the interval is created, from the interval's end).
        """
        if kind not in hist.DATASETS:
            raise ValueError(f"Unknown Genesys CDDS dataset {kind!r}; expected one of {hist.DATASETS}")
        interval = f"{hist.format_instant(start)}/{hist.format_instant(end)}"
        export = params.get("export_id")
        extra: dict[str, Any] = {"interval": interval, "export": str(export) if export else None}
        location = params.get("location_uri")
        if location:
            extra.update(
                source="location", location_uri=str(location), location_conn_id=params.get("location_conn_id")
            )
            return job_ref(self.vendor, kind, f"{location} {interval}", **extra)
        title = params.get("job_title")
        if not title:
            raise ValueError(
                "Genesys CDDS: job_params needs job_title (the CDDS job's title) or location_uri"
            )
        offset = timedelta(seconds=float(params.get("created_offset_seconds") or 0))
        length = params.get("created_window_seconds")
        low, high = hist.created_window(
            start, end, offset=offset, length=timedelta(seconds=float(length)) if length else None
        )
        expires = high + timedelta(days=self.retention_days) if self.retention_days is not None else None
        extra.update(
            source="api",
            title=str(title),
            exact_title=params.get("title_match", "exact") != "contains",
            window=[hist.format_instant(low), hist.format_instant(high)],
            expires=hist.format_instant(expires) if expires else None,
        )
        return job_ref(self.vendor, kind, f"{title} {interval}", **extra)

    def find_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef | None:
        """The same reference :meth:`submit_job` returns: the interval's export is found by its dates."""
        return self.submit_job(kind, start, end, params)

    def cancel_job(self, job: JobRef) -> None:
        """Nothing to cancel: CDDS runs its scheduled jobs whatever we do."""

    async def acancel_job(self, job: JobRef) -> None:
        """Nothing to cancel (see :meth:`cancel_job`)."""

    # -- status: shared judgement, twinned I/O -----------------------------------------------
    def _expired_since(self, job: Mapping[str, Any]) -> datetime | None:
        expires = _when(job.get("extra", {}).get("expires"))
        return expires if expires is not None and datetime.now(UTC) >= expires else None

    def _judge_items(self, job: JobRef, items: tuple[hist.HistoryItem, ...]) -> JobStatus:
        extra = job.get("extra", {})
        window = (hist.parse_instant(extra["window"][0]), hist.parse_instant(extra["window"][1]))
        chosen = hist.select_items(items, extra["title"], window, exact_title=extra.get("exact_title", True))
        return hist.judge(
            job["job_id"], chosen, expired_since=self._expired_since(job), export=extra.get("export")
        )

    @staticmethod
    def _location_items(uris: list[str]) -> tuple[hist.HistoryItem, ...]:
        return tuple(hist.HistoryItem(uri, "", os.path.basename(uri), None, None, None) for uri in uris)

    def _judge_location(self, job: JobRef, uris: list[str]) -> JobStatus:
        extra = job.get("extra", {})
        return hist.judge(
            job["job_id"], self._location_items(uris), export=extra.get("export"), single_export=True
        )

    def _history_page(self, title: str, size: int) -> hist.HistoryPage:
        data = self.client.get_json(hist.HISTORY_PATH, params=hist.history_params(title, size))
        return self._parse(data)

    def _parse(self, data: Any) -> hist.HistoryPage:
        try:
            return hist.parse_history(data)
        except (ValueError, TypeError) as exc:
            raise VendorResponseError(
                vendor=self.vendor, method="GET", url=hist.HISTORY_PATH, status=200, message=str(exc)
            ) from None

    def _wider(self, page: hist.HistoryPage, job: JobRef) -> int | None:
        low = hist.parse_instant(job.get("extra", {})["window"][0])
        if not hist.needs_more_history(page, low) or page.size >= self.max_history_size:
            return None
        return min(page.count, self.max_history_size)

    def history_items(self, job: JobRef) -> tuple[hist.HistoryItem, ...]:
        """The job's history items (newest first), asking for more when the interval was cut off."""
        title = job.get("extra", {})["title"]
        page = self._history_page(title, self.history_size)
        wider = self._wider(page, job)
        if wider is not None:
            page = self._history_page(title, wider)
        return page.items

    async def ahistory_items(self, job: JobRef) -> tuple[hist.HistoryItem, ...]:
        """Async twin of :meth:`history_items`."""
        client = await self.aclient()
        title = job.get("extra", {})["title"]
        page = self._parse(
            await client.aget_json(hist.HISTORY_PATH, params=hist.history_params(title, self.history_size))
        )
        wider = self._wider(page, job)
        if wider is not None:
            page = self._parse(
                await client.aget_json(hist.HISTORY_PATH, params=hist.history_params(title, wider))
            )
        return page.items

    def _list_location(self, job: JobRef) -> list[str]:
        extra = job.get("extra", {})
        return list_uris(extra["location_uri"], extra.get("location_conn_id"))

    def get_job_status(self, job: JobRef) -> JobStatus:
        if job.get("extra", {}).get("source") == "location":
            return self._judge_location(job, self._list_location(job))
        return self._judge_items(job, self.history_items(job))

    async def aget_job_status(self, job: JobRef) -> JobStatus:
        if job.get("extra", {}).get("source") == "location":
            # Object-store SDKs block: list in a thread so the triggerer's loop keeps running.
            return self._judge_location(job, await asyncio.to_thread(self._list_location, job))
        return self._judge_items(job, await self.ahistory_items(job))

    # -- landing -------------------------------------------------------------------------
    def iter_file(self, file_name: str) -> Iterator[bytes]:
        """Stream one artifact from ``GET /data-download/v3/files/{fileName}``."""
        with self.client.stream(
            "GET", hist.FILES_PATH + quote(file_name, safe=""), chunk_size=COPY_CHUNK
        ) as chunks:
            yield from chunks

    @staticmethod
    def _iter_uri(uri: str, conn_id: str | None) -> Iterator[bytes]:
        with open_uri(uri, "rb", conn_id=conn_id, compression="disable") as handle:
            while chunk := handle.read(COPY_CHUNK):
                yield chunk

    def land_result(self, job: JobRef, status: JobStatus, landing: LandingSink) -> dict[str, Any]:
        """Download every part of the export, unchanged, into ``landing`` (archive order).

        The file list is read again (the status the operator passes carries no details).
        Returns ``export``, ``artifact_source`` and ``artifacts`` (``file_name``, ``uri``, ``bytes``)
        for the manifest: the tables step finds each part's name there.
        """
        extra = job.get("extra", {})
        fresh = self.get_job_status(job)
        if fresh.outcome is not JobOutcome.SUCCEEDED:
            raise VendorResponseError(
                vendor=self.vendor,
                method="GET",
                url=hist.HISTORY_PATH,
                message=f"{job['job_id']}: the export is no longer complete ({fresh.vendor_state}); run the task again",
            )
        source = extra.get("source", "api")
        expected: Mapping[str, int | None] = fresh.details.get("bytes") or {}
        artifacts = []
        for name in fresh.details["files"]:
            part = parse_part_name(name)
            assert part is not None  # judge() only lists parsed parts
            extension = name[len(part.base) :]  # ".z01.smime", ".zip.smime": the raw object keeps it
            if source == "location":
                chunks = self._iter_uri(join_uri(extra["location_uri"], name), extra.get("location_conn_id"))
            else:
                chunks = self.iter_file(name)
            counted = [0]

            def counting(
                source_chunks: Iterator[bytes] = chunks, total: list[int] = counted
            ) -> Iterator[bytes]:
                for chunk in source_chunks:
                    total[0] += len(chunk)
                    yield chunk

            uri = landing.write_stream(counting(), None, extension=extension)
            want = expected.get(name)
            if want is not None and want > 0 and want != counted[0]:
                raise VendorResponseError(
                    vendor=self.vendor,
                    method="GET",
                    url=hist.FILES_PATH + name,
                    message=f"{name}: downloaded {counted[0]} bytes, the history says {want}; run the task again",
                )
            artifacts.append({"file_name": name, "uri": uri, "bytes": counted[0]})
        return {"export": fresh.details["export"], "artifact_source": source, "artifacts": artifacts}
