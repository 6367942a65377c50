"""Genesys Context Services: export services/states/tasks files by date, then tables from them.

See ``docs/genesys_context_services.md`` for the connection, the completeness rules, the
assumed CSV column order and what ``filter_state`` means for re-runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException

from contact_center_provider.hooks.genesys_context_services import KIND, GenesysContextServicesHook
from contact_center_provider.hooks.genesys_context_services_files import (
    DEFAULT_FILE_NAME_PREFIX,
    DEFAULT_MISSING_FILE_TIMEOUT,
    ExportOptions,
)
from contact_center_provider.operators.export_job import VendorExportJobOperator
from contact_center_provider.operators.tables import TableRows, VendorTablesOperator

if TYPE_CHECKING:
    import pyarrow as pa


class GenesysContextServicesExportOperator(VendorExportJobOperator):
    """Export the data interval's services, states and tasks to files and land them unchanged.

    :param filter_events: ``any``, ``started`` or ``completed``: which event must fall in the interval.
    :param filter_state: ``any``, ``active`` or ``inactive`` -- the state at export time, not over
        the interval: re-running an old interval with ``active`` returns only what is still open.
    :param format: ``json`` (preferred) or ``csv``.
    :param compression: ``uncompressed``, ``zip`` or ``gzip``.
    :param separator: the CSV separator.
    :param file_name_prefix: start of the file names (the interval is appended).
    :param completion: ``both`` (default), ``size_stable`` or ``valid_end``: when a file is complete.
    :param missing_file_timeout: seconds after the export past which an absent file fails the task.

    Other parameters: :class:`~contact_center_provider.operators.export_job.VendorExportJobOperator`.
    """

    hook_class = GenesysContextServicesHook
    landing_extension = ""

    def __init__(
        self,
        *,
        filter_events: str = "any",
        filter_state: str = "any",
        format: str = "json",
        compression: str = "uncompressed",
        separator: str = ",",
        file_name_prefix: str = DEFAULT_FILE_NAME_PREFIX,
        completion: str = "both",
        missing_file_timeout: float = DEFAULT_MISSING_FILE_TIMEOUT,
        dataset: str = KIND,
        **kwargs: Any,
    ) -> None:
        # Validated here, at DAG parse time, not when the export runs.
        options = ExportOptions.from_mapping(
            {
                "filter_events": filter_events,
                "filter_state": filter_state,
                "format": format,
                "compression": compression,
                "separator": separator,
                "file_name_prefix": file_name_prefix,
                "completion": completion,
                "missing_file_timeout": missing_file_timeout,
            }
        )
        super().__init__(kind=KIND, dataset=dataset, job_params=options.to_dict(), **kwargs)


class GenesysContextServicesTablesOperator(VendorTablesOperator):
    """Turn landed GMS export files into ``services``, ``states``, ``tasks`` and ``attached_data``.

    :param csv_columns: per file type (``services``, ``states``, ``tasks``), the full CSV column
        order when yours differs from the assumed one (see the docs page).
    :param csv_attached_data_keys: per file type, the attached-data keys whose values follow
        the columns of each CSV row.
    :param csv_encoding: text encoding of the files (UTF-8 assumed).
    :param csv_quotechar: the quote character of quoted CSV fields (``None``: no quoting).

    A file that cannot be read as declared (a row with the wrong number of fields, a bad
    value) fails the task without retries, naming file and line; no table is published.
    """

    vendor = GenesysContextServicesHook.vendor

    def __init__(
        self,
        *,
        csv_columns: Mapping[str, Sequence[str]] | None = None,
        csv_attached_data_keys: Mapping[str, Sequence[str]] | None = None,
        csv_encoding: str = "utf-8",
        csv_quotechar: str | None = '"',
        **kwargs: Any,
    ) -> None:
        from contact_center_provider.transforms.genesys_context_services import CsvLayout

        super().__init__(**kwargs)
        self.layout = CsvLayout(
            columns=dict(csv_columns or {}),
            attached_data_keys=dict(csv_attached_data_keys or {}),
            encoding=csv_encoding,
            quotechar=csv_quotechar,
        )

    def expected_tables(self, manifest: Mapping[str, Any]) -> dict[str, pa.Schema]:
        from contact_center_provider.transforms.genesys_context_services import SCHEMAS

        return dict(SCHEMAS)

    def iter_tables(self, manifest: Mapping[str, Any], pages: Iterator[bytes]) -> Iterator[TableRows]:
        from contact_center_provider.transforms.genesys_context_services import GmsFileError, iter_file_tables

        files = {entry["uri"]: entry for entry in manifest.get("files") or []}
        for uri, raw in zip(manifest["pages"], pages, strict=True):
            entry = files[uri]
            try:
                for batch in iter_file_tables(
                    raw,
                    name=entry["name"],
                    file_type=entry["type"],
                    fmt=manifest["format"],
                    compression=entry["compression"],
                    separator=manifest["separator"],
                    layout=self.layout,
                ):
                    yield TableRows(batch)
            except GmsFileError as exc:
                # The same bytes fail the same way on a retry: fail now, the raw zone keeps them.
                raise AirflowFailException(f"{self.task_id}: {exc} (landed as {uri})") from exc
