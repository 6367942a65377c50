"""Genesys CDDS: collect an interval's encrypted export artifacts, then tables from them.

See ``docs/genesys_cdds.md`` for the connection, how an interval's export is found,
the decryption (key never on disk), the extraction limits and the table columns.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from contact_center_provider.hooks.genesys_cdds import GenesysCddsHook
from contact_center_provider.hooks.genesys_cdds_history import artifact_params
from contact_center_provider.operators.export_job import VendorExportJobOperator
from contact_center_provider.operators.tables import TableRows, VendorTablesOperator

if TYPE_CHECKING:
    import pyarrow as pa


class GenesysCddsExportOperator(VendorExportJobOperator):
    """Wait for the interval's CDDS export and land every part, unchanged, in the raw zone.

    :param dataset: ``"interactions"`` or ``"contacts"`` (the CDDS job's type).
    :param job_title: title of the CDDS job to follow through the REST API. Templated.
    :param location_uri: instead, where the interval's artifacts are dropped
        (``s3://bucket/cdds/{{ ds }}/``). Templated.
    :param location_conn_id: storage connection of ``location_uri``.
    :param export_id: pick this export (``export-<id>``) when several match.
    :param title_match: ``"exact"`` or ``"contains"``.
    :param created_offset_seconds: the run exporting ``[start, end)`` is created from ``end`` plus this.
    :param created_window_seconds: ...within this many seconds (default: the interval's length).

    Other parameters: :class:`~contact_center_provider.operators.export_job.VendorExportJobOperator`.
    """

    hook_class = GenesysCddsHook
    landing_extension = ""

    def __init__(
        self,
        *,
        dataset: str = "interactions",
        job_title: str | None = None,
        location_uri: str | None = None,
        location_conn_id: str | None = None,
        export_id: str | None = None,
        title_match: str = "exact",
        created_offset_seconds: float = 0,
        created_window_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        params = artifact_params(
            job_title=job_title,
            location_uri=location_uri,
            location_conn_id=location_conn_id,
            export_id=export_id,
            title_match=title_match,
            created_offset_seconds=created_offset_seconds,
            created_window_seconds=created_window_seconds,
        )
        super().__init__(kind=dataset, dataset=dataset, job_params=params, **kwargs)


class GenesysCddsTablesOperator(VendorTablesOperator):
    """Decrypt, rejoin and extract a landed export, then write its tables.

    Every part is decrypted and every member's CRC checked before the first row is read;
    any failure (wrong key, missing or damaged part, unsafe member, a limit) fails the task
    without retries, naming the file, and publishes no table: the raw zone keeps the parts.

    :param conn_id: the ``genesys_cdds`` connection holding the private key and certificate. Templated.
    :param max_members: members an archive may list.
    :param max_member_bytes: uncompressed bytes of one member.
    :param max_total_bytes: uncompressed bytes of the whole export.
    :param max_ratio: compression ratio of one member (zip-bomb protection).
    :param max_in_memory_bytes: larger parts are decrypted by streaming through ``openssl``.
    :param openssl: the openssl command (used for 3DES parts and large parts).
    :param batch_rows: rows read per batch (bounds memory).

    Other parameters: :class:`~contact_center_provider.operators.tables.VendorTablesOperator`.
    """

    vendor = GenesysCddsHook.vendor
    template_fields: Sequence[str] = (*VendorTablesOperator.template_fields, "conn_id")

    def __init__(
        self,
        *,
        conn_id: str = GenesysCddsHook.default_conn_name,
        max_members: int = 10_000,
        max_member_bytes: int = 16 * 1024**3,
        max_total_bytes: int = 64 * 1024**3,
        max_ratio: float = 200.0,
        max_in_memory_bytes: int = 256 * 1024**2,
        openssl: str = "openssl",
        batch_rows: int = 50_000,
        **kwargs: Any,
    ) -> None:
        from contact_center_provider.transforms.safe_extract import ExtractLimits

        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.limits = ExtractLimits(max_members, max_member_bytes, max_total_bytes, max_ratio)
        self.max_in_memory_bytes = max_in_memory_bytes
        self.openssl = openssl
        self.batch_rows = batch_rows

    def expected_tables(self, manifest: Mapping[str, Any]) -> dict[str, pa.Schema]:
        from contact_center_provider.transforms.genesys_cdds import expected_tables

        return expected_tables(str(manifest.get("kind") or manifest.get("dataset")))

    def _fail(self, manifest: Mapping[str, Any], exc: Exception) -> AirflowFailException:
        # The same bytes fail the same way on a retry: fail now; the raw zone keeps the parts.
        return AirflowFailException(
            f"{self.task_id}: {exc} (the parts are kept unchanged under {manifest.get('prefix')})"
        )

    def _fetch(self, manifest: Mapping[str, Any], folder: str) -> list[Any]:
        from contact_center_provider.storage.uri import open_uri
        from contact_center_provider.transforms.cdds_artifacts import ArtifactPart

        artifacts = manifest.get("artifacts")
        if not artifacts:
            raise AirflowFailException(
                f"{self.task_id}: the landing at {manifest.get('prefix')} lists no artifacts"
            )
        os.makedirs(folder, mode=0o700)
        parts = []
        for artifact in artifacts:
            name = str(artifact["file_name"])
            if os.path.basename(name) != name or name.startswith("."):
                raise AirflowFailException(f"{self.task_id}: refusing the artifact name {name!r}")
            local = os.path.join(folder, name)
            with (
                open_uri(artifact["uri"], "rb", conn_id=self.output_conn_id, compression="disable") as source,
                open(local, "xb") as target,
            ):
                shutil.copyfileobj(source, target, 1 << 20)
            parts.append(ArtifactPart(name, local))
        return parts

    def iter_tables(self, manifest: Mapping[str, Any], pages: Iterator[bytes]) -> Iterator[TableRows]:
        from contact_center_provider.transforms.artifact_errors import ArtifactError
        from contact_center_provider.transforms.cdds_artifacts import open_export, private_workdir
        from contact_center_provider.transforms.genesys_cdds import CddsRecordError, iter_export_tables
        from contact_center_provider.transforms.genesys_cdds_schemas import enum_labels_table

        key = GenesysCddsHook(self.conn_id).smime_key()
        with private_workdir() as work:
            parts = self._fetch(manifest, os.path.join(work, "encrypted"))
            try:
                opened = open_export(
                    parts,
                    key,
                    os.path.join(work, "plain"),
                    limits=self.limits,
                    max_in_memory=self.max_in_memory_bytes,
                    openssl=self.openssl,
                )
            except ArtifactError as exc:
                raise self._fail(manifest, exc) from exc
            for report in opened.parts:
                self.log.info(
                    "%s: %d -> %d bytes (%s)",
                    report.name,
                    report.encrypted_bytes,
                    report.plaintext_bytes,
                    report.method,
                )
            unknown: Counter[str] = Counter()
            reported: Counter[str] = Counter()
            unrecognised: list[str] = []
            files = [(m.name, m.path) for m in opened.members]
            try:
                for table, rows in iter_export_tables(
                    files, unknown=unknown, unrecognised=unrecognised, batch_rows=self.batch_rows
                ):
                    # The base sums what each batch reports: hand over only what is new.
                    yield TableRows({table: rows}, unknown_fields=dict(unknown - reported))
                    reported = unknown.copy()
            except CddsRecordError as exc:
                raise self._fail(manifest, exc) from exc
            if unrecognised:
                self.log.warning(
                    "Files in %s that feed no table (kept in raw): %s", opened.export, unrecognised
                )
            if "enum_labels" in self.expected_tables(manifest):
                yield TableRows({"enum_labels": enum_labels_table()})
