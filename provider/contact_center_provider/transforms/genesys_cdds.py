"""CDDS contact-history JSON Lines -> Arrow tables with the documented schemas.

An export holds ``<EntityType>-<jobId>.json`` files (interactions or contacts) and, when
there is any, ``<EntityType>-Attachment-<jobId>.json`` (documents attached to
interactions) or the contact-attribute file. Each line is one JSON object. Schemas and
typing rules: :mod:`.genesys_cdds_schemas`.

* Keys are matched to the documented properties case-insensitively: the reference's
  schemas spell them ``CONTACTID``/``TENANTID``, its own example ``ContactId``/``tenantid``.
* A property the reference does not document is counted (``unknown_fields``, as
  ``table.KEY``) and left out of the table; the raw zone keeps the artifact it came from.
* A documented property of the wrong type fails with :class:`CddsRecordError` naming the
  file, the line, the record's id and the property (never the value: it may be personal).

No Airflow import.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from contact_center_provider.transforms.genesys_cdds_schemas import (
    ATTRIBUTES_MAP,
    ENUM_LABELS_SCHEMA,
    TABLES,
    TableName,
    enum_labels_table,
)

__all__ = [
    "DATASET_TABLES",
    "CddsRecordError",
    "CddsTables",
    "build_tables",
    "classify_member",
    "empty_table",
    "expected_tables",
    "iter_export_tables",
    "iter_record_batches",
    "parse_timestamp",
]

#: Tables each CDDS job type produces (empty when the export has no such records); the
#: interactions export also gets the ``enum_labels`` lookup of its STATUS / ENTITYTYPEID codes.
DATASET_TABLES: dict[str, tuple[TableName, ...]] = {
    "interactions": ("interactions", "documents"),
    "contacts": ("contacts", "contact_attributes"),
}
DEFAULT_BATCH_ROWS = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table with no rows (``Schema.empty_table`` and ``Table.from_batches([])`` import pandas)."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


class CddsRecordError(ValueError):
    """A record in an export file does not fit its documented schema (names file, line, id, field)."""


def parse_timestamp(value: str) -> int | None:
    """Milliseconds since the epoch for an ISO-8601 string (UTC when it has no zone); None if empty.

    :raises ValueError: ``value`` is not ISO-8601.
    """
    text = value.strip()
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    delta = parsed - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_NAME_RULES: tuple[tuple[re.Pattern[str], TableName], ...] = (
    (re.compile(r"attachment", re.IGNORECASE), "documents"),
    (re.compile(r"attribute", re.IGNORECASE), "contact_attributes"),
    (re.compile(r"^(interaction|email|chat|phonecall|callback|cobrowse)", re.IGNORECASE), "interactions"),
    (re.compile(r"^contact", re.IGNORECASE), "contacts"),
)


def classify_member(name: str, first_record: Mapping[str, Any] | None = None) -> TableName | None:
    """Which table an export file feeds, by its name, else by its first record's keys.

    The reference names files ``<EntityType>-<jobId>.json`` and
    ``<EntityType>-Attachment-<jobId>.json`` without listing the entity types, so the keys
    decide when the name does not: ``IXNID`` -> interactions, ``DOCUMENTID``/``ENTITYID`` ->
    documents, ``ATTRIBUTEID`` -> contact attributes, ``CONTACTID`` -> contacts.
    """
    base = name.rsplit("/", 1)[-1]
    if not base.lower().endswith((".json", ".jsonl")):
        return None
    for pattern, table in _NAME_RULES:
        if pattern.search(base):
            return table
    if first_record is None:
        return None
    keys = {str(k).upper() for k in first_record}
    if "IXNID" in keys:
        return "interactions"
    if "DOCUMENTID" in keys or "ENTITYID" in keys:
        return "documents"
    if "ATTRIBUTEID" in keys:
        return "contact_attributes"
    if "CONTACTID" in keys:
        return "contacts"
    return None


def _attribute_value(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_PAIRS = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DIGITS = re.compile(r"\s*-?\d+\s*")


def _parse_schema(schema: pa.Schema) -> pa.Schema:
    """What ``read_json`` reads: timestamps as epoch milliseconds, the map as a list of pairs."""
    fields = []
    for field_ in schema:
        if field_.type == ATTRIBUTES_MAP:
            fields.append(pa.field(field_.name, _PAIRS))
        elif pa.types.is_timestamp(field_.type):
            fields.append(pa.field(field_.name, pa.int64()))
        else:
            fields.append(pa.field(field_.name, field_.type))
    return pa.schema(fields)


def _to_map(pairs: pa.ChunkedArray) -> pa.Array:
    lists = pairs.combine_chunks()
    offsets = lists.offsets
    if len(offsets) and offsets[0].as_py():
        offsets = pc.subtract(offsets, offsets[0])
        lists = pa.ListArray.from_arrays(offsets, lists.flatten(), mask=lists.is_null())
    entries = lists.values
    return pa.MapArray.from_arrays(
        lists.offsets, entries.field("key"), entries.field("value"), mask=lists.is_null()
    )


def _integral(value: Any) -> int | None:
    """An integer from a JSON integer, an integral number, or a decimal string (``format: int64``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return None


class _Columns:
    """Normalised rows of one table, buffered as JSON Lines and parsed by Arrow in batches.

    Arrow's JSON reader builds the columns (fast, and without importing pandas as
    ``pa.array`` on Python lists does); Python only checks and normalises each record.
    """

    def __init__(self, table: TableName) -> None:
        self.table = table
        self.schema, fields, self.id_field = TABLES[table]
        self.fields = {name.upper(): (name, kind) for name, kind in fields}
        self.required = [f.name for f in self.schema if not f.nullable]
        self.parse_schema = _parse_schema(self.schema)
        self.lines: list[bytes] = []

    @property
    def rows(self) -> int:
        return len(self.lines)

    def _fail(
        self, where: str, record: Mapping[str, Any], key: str, want: str, value: Any
    ) -> CddsRecordError:
        ident = next((record[k] for k in record if str(k).upper() == self.id_field), None)
        label = f"{where} ({self.id_field}={ident})" if isinstance(ident, str | int) else where
        return CddsRecordError(f"{label}: field {key!r} must be {want}, got a JSON {_json_kind(value)}")

    def add(self, record: Mapping[str, Any], where: str, unknown: Counter[str]) -> None:
        row: dict[str, Any] = {}
        for key, value in record.items():
            spec = self.fields.get(str(key).upper())
            column = spec[0].lower() if spec is not None else ""
            if spec is None or column in row or (spec[1] == "attributes" and "allattributes" in row):
                if value is not None:
                    unknown[f"{self.table}.{key}"] += 1
                continue
            kind = spec[1]
            if value is None:
                row[column] = None
            elif kind == "string":
                if not isinstance(value, str):
                    raise self._fail(where, record, key, "a string", value)
                row[column] = value
            elif kind == "int":
                row[column] = self._int(value, where, record, key)
            elif kind == "timestamp":
                if not isinstance(value, str):
                    raise self._fail(where, record, key, "an ISO-8601 date string", value)
                try:
                    row[column] = parse_timestamp(value)
                except (ValueError, OverflowError):
                    raise self._fail(where, record, key, "an ISO-8601 date string", value) from None
            else:
                row.update(self._attributes(value, where, record, key))
        for column in self.required:
            if row.get(column) is None:
                raise CddsRecordError(f"{where}: the required field {column.upper()!r} is missing or null")
        self.lines.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())

    def _int(self, value: Any, where: str, record: Mapping[str, Any], key: str) -> int | None:
        if isinstance(value, str) and not value.strip():
            return None
        number = _integral(value)
        if number is None or not _INT64_MIN <= number <= _INT64_MAX:
            raise self._fail(where, record, key, "a 64-bit integer", value)
        return number

    def _attributes(self, value: Any, where: str, record: Mapping[str, Any], key: str) -> dict[str, Any]:
        if isinstance(value, str):
            # The reference's own example shows the object serialised into a string.
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise self._fail(where, record, key, "a JSON object", value) from None
        if not isinstance(value, dict):
            raise self._fail(where, record, key, "a JSON object", value)
        return {
            "allattributes": json.dumps(value, ensure_ascii=False, separators=(",", ":")),
            "allattributes_map": [{"key": str(k), "value": _attribute_value(v)} for k, v in value.items()],
        }

    def flush(self) -> pa.Table:
        body = b"\n".join(self.lines) + b"\n"
        self.lines = []
        parsed = pj.read_json(
            io.BytesIO(body),
            read_options=pj.ReadOptions(block_size=max(len(body) + 1, 1 << 20)),
            parse_options=pj.ParseOptions(
                explicit_schema=self.parse_schema, unexpected_field_behavior="error"
            ),
        )
        arrays = []
        for field_ in self.schema:
            column = parsed.column(field_.name)
            if field_.type == ATTRIBUTES_MAP:
                arrays.append(_to_map(column))
            elif pa.types.is_timestamp(field_.type):
                arrays.append(column.cast(field_.type))
            else:
                arrays.append(column)
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _iter_objects(lines: Iterable[bytes], source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if number == 1 and text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]
        if not text:
            continue
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise CddsRecordError(
                f"{source} line {number}: not a JSON object ({type(exc).__name__})"
            ) from None
        if not isinstance(record, dict):
            raise CddsRecordError(
                f"{source} line {number}: expected a JSON object, got a JSON {_json_kind(record)}"
            )
        yield number, record


def iter_record_batches(
    lines: Iterable[bytes],
    table: TableName,
    *,
    source: str,
    unknown: Counter[str],
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[pa.Table]:
    """Turn the lines of one export file into tables of ``table``'s schema, ``batch_rows`` rows at most.

    :param lines: the file's lines (bytes).
    :param table: the table the file feeds (:func:`classify_member`).
    :param source: the file's name, for errors.
    :param unknown: receives ``table.KEY`` counts of undocumented properties.
    :param batch_rows: rows per batch (bounds memory for large files).
    :raises CddsRecordError: a line is not a JSON object or a field has the wrong type.
    """
    columns = _Columns(table)
    for number, record in _iter_objects(lines, source):
        columns.add(record, f"{source} line {number}", unknown)
        if columns.rows >= batch_rows:
            yield columns.flush()
    if columns.rows:
        yield columns.flush()


@dataclass
class CddsTables:
    """The tables of one export.

    :param tables: table name -> Arrow table (``enum_labels`` included).
    :param rows: table name -> rows.
    :param unknown_fields: ``table.KEY`` -> records carrying that undocumented property.
    :param unrecognised_files: export files that feed no table (kept in the raw artifact).
    """

    tables: dict[str, pa.Table] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    unknown_fields: Counter[str] = field(default_factory=Counter)
    unrecognised_files: list[str] = field(default_factory=list)


def _first_record(handle: BinaryIO) -> dict[str, Any] | None:
    for line in handle:
        text = line.strip().lstrip(b"\xef\xbb\xbf")
        if text:
            try:
                record = json.loads(text)
            except ValueError:
                return None
            return record if isinstance(record, dict) else None
    return None


def iter_export_tables(
    files: Iterable[tuple[str, str]],
    *,
    unknown: Counter[str],
    unrecognised: list[str],
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> Iterator[tuple[TableName, pa.Table]]:
    """Stream an extracted export's files as ``(table name, rows)`` batches, file by file.

    :param files: ``(name inside the archive, local path)`` of every extracted file.
    :param unknown: receives ``table.KEY`` counts of undocumented properties.
    :param unrecognised: receives the names of files that feed no table.
    :param batch_rows: rows per batch at most.
    """
    for name, path in sorted(files):
        with open(path, "rb") as handle:
            table = classify_member(name, _first_record(handle))
            if table is None:
                unrecognised.append(name)
                continue
            handle.seek(0)
            for batch in iter_record_batches(
                handle, table, source=name, unknown=unknown, batch_rows=batch_rows
            ):
                yield table, batch


def expected_tables(dataset: str) -> dict[str, pa.Schema]:
    """Every table an export of ``dataset`` produces (written even when empty), with its schema."""
    if dataset not in DATASET_TABLES:
        raise ValueError(f"unknown CDDS dataset {dataset!r}; expected one of {sorted(DATASET_TABLES)}")
    tables: dict[str, pa.Schema] = {name: TABLES[name][0] for name in DATASET_TABLES[dataset]}
    if dataset == "interactions":
        tables["enum_labels"] = ENUM_LABELS_SCHEMA
    return tables


def build_tables(
    files: Iterable[tuple[str, str]],
    dataset: str,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> CddsTables:
    """Convert an extracted export into its tables, in memory (see :func:`iter_export_tables` to stream).

    :param files: ``(name inside the archive, local path)`` of every extracted file.
    :param dataset: ``"interactions"`` or ``"contacts"``: the tables always produced (empty
        when the export holds no such records; CDDS omits files without data).
    :param batch_rows: rows per record batch while reading.
    """
    schemas = expected_tables(dataset)
    result = CddsTables()
    batches: dict[str, list[pa.Table]] = {name: [] for name in schemas if name != "enum_labels"}
    for table, batch in iter_export_tables(
        files, unknown=result.unknown_fields, unrecognised=result.unrecognised_files, batch_rows=batch_rows
    ):
        batches.setdefault(table, []).append(batch)
    for name, parts in batches.items():
        schema = TABLES[name][0]  # type: ignore[index]
        result.tables[name] = pa.concat_tables(parts) if parts else empty_table(schema)
        result.rows[name] = result.tables[name].num_rows
    if "enum_labels" in schemas:
        result.tables["enum_labels"] = enum_labels_table()
        result.rows["enum_labels"] = result.tables["enum_labels"].num_rows
    return result
