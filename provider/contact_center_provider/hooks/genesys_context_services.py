"""Genesys Context Services (GMS): export services, states and tasks to files by date.

One export is ``POST /genesys/1/cs/maintenance/services/files``: GMS writes up to three
files (``..._services``, ``..._states``, ``..._tasks``; CSV or JSON; optionally zip or
gzip) on **its own** file system and answers their paths. This hook maps that onto the
job contract (:mod:`contact_center_provider.jobs`):

* :meth:`~GenesysContextServicesHook.submit_job` posts the export and returns a
  :class:`~contact_center_provider.jobs.JobRef` whose ``extra`` lists the expected files;
* :meth:`~GenesysContextServicesHook.get_job_status` (and the async twin, which runs the
  storage I/O in a thread so the triggerer's loop never blocks) looks for them at the
  collection location and reports RUNNING until every file exists and is complete,
  SUCCEEDED when all are, FAILED when a listed file is still absent past its deadline;
* :meth:`~GenesysContextServicesHook.land_result` copies each file, byte for byte, into
  the raw zone.

Connection (type ``genesys_context_services``): host = the GMS base URL
(``https://gms.example.com:8080``); login/password = HTTP Basic credentials (leave empty
for a GMS without authentication); extra ``files_base_url`` = where the GMS export
directory can be read (``file:///mnt/gms-export``, ``s3://bucket/gms-export``; ``sftp://``
is not supported yet), ``files_conn_id`` = the storage connection for it,
``server_export_dir`` = that same directory as the GMS host names it (used in
``file_prefix``), and optional ``contact_center_id`` / ``group_id`` (the multi-tenant
``ContactCenterId`` / ``GroupId`` headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Generator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from contact_center_provider.hooks import genesys_context_services_files as gf
from contact_center_provider.hooks.base import ClientConfig, VendorHook, connection_extras
from contact_center_provider.http.auth import BasicAuth
from contact_center_provider.http.errors import VendorResponseError
from contact_center_provider.jobs import JobRef, JobStatus, LandingSink, job_ref
from contact_center_provider.storage.uri import exists, join_uri, open_uri, split_uri

#: The only kind of job this vendor has.
KIND = "services"
#: Chunk size of the copy into the raw zone.
COPY_CHUNK = 1 << 20


def gms_base_url(conn: Any) -> str:
    """The GMS base URL from the connection's host (a full URL, or a host name plus port)."""
    host = (conn.host or "").strip()
    if not host:
        raise ValueError(f"Connection {conn.conn_id!r}: set host to the GMS base URL (https://gms:8080)")
    if "://" not in host:
        scheme = conn.schema if conn.schema in ("http", "https") else "http"
        host = f"{scheme}://{host}"
    parts = urlsplit(host)
    if conn.port and parts.port is None:
        parts = parts._replace(netloc=f"{parts.netloc}:{conn.port}")
    return urlunsplit(parts).rstrip("/")


class GenesysContextServicesHook(VendorHook):
    """Export GMS Context Services data to files and collect them.

    :param genesys_context_services_conn_id: connection of type ``genesys_context_services``.
    """

    conn_name_attr = "genesys_context_services_conn_id"
    default_conn_name = "genesys_context_services_default"
    conn_type = "genesys_context_services"
    hook_name = "Genesys Context Services"
    vendor: ClassVar[str] = "genesys_context_services"

    def __init__(self, genesys_context_services_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(genesys_context_services_conn_id, **kwargs)
        # Sizes seen on the previous look and sizes whose end was verified, per file URI:
        # the "size stable across two looks" rule needs memory between polls.
        self._sizes: dict[str, int] = {}
        self._verified: dict[str, int] = {}

    # -- connection --------------------------------------------------------------------
    def client_config(self, conn: Any, extras: dict[str, Any]) -> ClientConfig:
        headers = {}
        if extras.get("contact_center_id"):
            headers["ContactCenterId"] = str(extras["contact_center_id"])
        if extras.get("group_id"):
            headers["GroupId"] = str(extras["group_id"])
        auth = BasicAuth(conn.login, conn.password or "") if conn.login else None
        return ClientConfig(base_url=gms_base_url(conn), auth=auth, headers=headers)

    def files_location(self) -> tuple[str, str | None, str]:
        """``(files_base_url, files_conn_id, server_export_dir)`` from the connection.

        :raises ValueError: naming the connection and the field that is missing or unusable.
        """
        conn = self.get_connection(self.conn_id)
        extras = connection_extras(conn)
        try:
            location = gf.check_location(str(extras.get("files_base_url") or ""))
        except ValueError as exc:
            raise ValueError(f"Connection {conn.conn_id!r}: {exc}") from None
        server_dir = str(extras.get("server_export_dir") or "")
        if not server_dir:
            raise ValueError(
                f"Connection {conn.conn_id!r}: set server_export_dir, the directory on the GMS host "
                "that files_base_url shows (it prefixes file_prefix)"
            )
        return location, extras.get("files_conn_id") or None, server_dir

    def check_connection(self) -> str:
        """Ask GMS for the service ids of the last second (a cheap, read-only export)."""
        location, _, _ = self.files_location()
        end = datetime.now(UTC)
        ids = self.client.get_json(
            gf.STREAM_PATH,
            params={
                "time_from": gf.format_instant(end - timedelta(seconds=1)),
                "time_to": gf.format_instant(end),
            },
        )
        if split_uri(location)[0] == "file" and not os.path.isdir(split_uri(location)[2]):
            raise ValueError(f"GMS answered, but files_base_url {location} is not a readable directory here")
        count = len(ids) if isinstance(ids, list) else "?"
        return f"Connected to GMS Context Services ({count} services in the last second); files at {location}"

    # -- submit --------------------------------------------------------------------------
    def submit_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef:
        """Post the export for ``[start, end)``; the reference lists the files GMS announced.

        :param kind: ``"services"`` (the export holds services, states and tasks).
        :param params: :class:`~.genesys_context_services_files.ExportOptions` fields.
        :raises VendorResponseError: when the answer is not the documented ``String[]`` of paths,
            or names files this export did not ask for.
        """
        if kind != KIND:
            raise ValueError(f"Genesys Context Services exports only {KIND!r}, not {kind!r}")
        options = gf.ExportOptions.from_mapping(params)
        location, files_conn_id, server_dir = self.files_location()
        query = gf.request_params(options, start, end, server_dir)
        # The document's table says 200, its worked example 202 Accepted: both are success.
        response = self.client.request("POST", gf.EXPORT_PATH, params=query, creates=True, expect=(200, 202))
        prefix = gf.name_prefix(options, start, end)
        try:
            files = gf.describe_files(gf.parse_answer(response.json()), prefix)
        except ValueError as exc:
            raise VendorResponseError(
                vendor=self.vendor, method="POST", url=response.url, status=response.status, message=str(exc)
            ) from None
        submitted = time.time()
        self.log.info(
            "GMS export %s announced %d file(s): %s", prefix, len(files), [f["name"] for f in files]
        )
        return job_ref(
            self.vendor,
            KIND,
            gf.export_token(files, prefix),
            files=files,
            location=location,
            files_conn_id=files_conn_id,
            options=options.to_dict(),
            interval=f"{gf.format_instant(start)}/{gf.format_instant(end)}",
            submitted_at=submitted,
            missing_deadline=submitted + options.missing_file_timeout,
        )

    def find_job(self, kind: str, start: datetime, end: datetime, params: Mapping[str, Any]) -> JobRef | None:
        """GMS keeps no list of exports. Files of an earlier export of the same interval sit in
        the same directory under the same prefix, so "finding" one would hand a re-run stale
        data: never guess."""
        return None

    # -- status --------------------------------------------------------------------------
    def _look(
        self, uri: str, conn_id: str | None, entry: Mapping[str, str], fmt: str, completion: Any
    ) -> gf.Look:
        if not exists(uri, conn_id):
            self._sizes.pop(uri, None)
            return gf.Look(exists=False)
        with open_uri(uri, "rb", conn_id=conn_id, compression="disable") as handle:
            size = handle.seek(0, os.SEEK_END)
            if not gf.needs_end_check(completion, self._sizes.get(uri), size):
                return gf.Look(True, size)
            if self._verified.get(uri) == size:
                return gf.Look(True, size, True)
            if entry["compression"] == "gzip":
                handle.seek(0)
                valid = gf.gzip_complete(iter(lambda: handle.read(COPY_CHUNK), b""))
            else:
                start = max(0, size - gf.TAIL_BYTES)
                handle.seek(start)
                tail = handle.read(size - start)
                if entry["compression"] == "zip":
                    valid = gf.zip_end_ok(tail, size)
                else:
                    valid = gf.plain_end_ok(tail, size, fmt)
        if valid:
            self._verified[uri] = size
        return gf.Look(True, size, valid)

    @staticmethod
    def _extra(job: JobRef) -> dict[str, Any]:
        extra = job.get("extra") or {}
        if "files" not in extra:
            # GMS has no job to look up: the files the answer listed ARE the job.
            raise ValueError(
                f"GMS export {job['job_id']}: the reference does not list its files, so it cannot be "
                "followed. A GMS export cannot be attached by job_id alone; use the reference "
                "submit_job returned (the export task's 'jobs' result)."
            )
        return dict(extra)

    def _judge(self, job: JobRef) -> JobStatus:
        extra = self._extra(job)
        files = extra["files"]
        options = extra["options"]
        location, conn_id = extra["location"], extra.get("files_conn_id")
        looks: dict[str, gf.Look] = {}
        previous: dict[str, int] = {}
        for entry in files:
            uri = join_uri(location, entry["name"])
            if uri in self._sizes:
                previous[entry["name"]] = self._sizes[uri]
            look = self._look(uri, conn_id, entry, options["format"], options["completion"])
            looks[entry["name"]] = look
            if look.size is not None:
                self._sizes[uri] = look.size
        verdict = gf.judge(
            files,
            looks,
            previous,
            options["completion"],
            now=time.time(),
            missing_deadline=float(extra["missing_deadline"]),
            location=location,
        )
        return JobStatus(
            job_id=job["job_id"],
            outcome=verdict.outcome,
            vendor_state=verdict.vendor_state,
            message=verdict.message,
            details={"files": verdict.files},
        )

    def get_job_status(self, job: JobRef) -> JobStatus:
        """Look at every listed file once (see the module docstring for the rules)."""
        return self._judge(job)

    async def aget_job_status(self, job: JobRef) -> JobStatus:
        """Async twin: the storage I/O (stat, tail reads, a gzip check) runs in a worker thread."""
        return await asyncio.to_thread(self._judge, job)

    def cancel_job(self, job: JobRef) -> None:
        """Nothing to cancel: GMS runs the export inside the request; its files stay on the server."""

    async def acancel_job(self, job: JobRef) -> None:
        """Async twin of :meth:`cancel_job`."""

    # -- landing --------------------------------------------------------------------------
    @staticmethod
    def _chunks(uri: str, conn_id: str | None) -> Generator[bytes, None, None]:
        with open_uri(uri, "rb", conn_id=conn_id, compression="disable") as handle:
            yield from iter(lambda: handle.read(COPY_CHUNK), b"")

    def land_result(self, job: JobRef, status: JobStatus, landing: LandingSink) -> dict[str, Any]:
        """Copy every file, unchanged, into the raw zone; return what the tables step needs."""
        extra = self._extra(job)
        location, conn_id = extra["location"], extra.get("files_conn_id")
        landed = []
        for entry in extra["files"]:
            uri = join_uri(location, entry["name"])
            if not exists(uri, conn_id):
                raise FileNotFoundError(
                    f"GMS export {job['job_id']}: {entry['name']} was complete but is gone from {location}"
                )
            name = entry["name"]
            extension = name[name.lower().rfind("_" + entry["type"]) + len(entry["type"]) + 1 :]
            with contextlib.closing(self._chunks(uri, conn_id)) as chunks:
                target = landing.write_stream(chunks, None, extension=extension)
            landed.append({**entry, "uri": target})
        options = extra["options"]
        return {
            "files": landed,
            "format": options["format"],
            "separator": options["separator"],
            "filter_events": options["filter_events"],
            "filter_state": options["filter_state"],
            "gms_interval": extra["interval"],
            "submitted_at": extra["submitted_at"],
        }
