"""GMS Context Services export files (services, states, tasks) -> Arrow tables.

Pure functions, no Airflow. One landed file goes in (its bytes, name, data type, format,
compression and the CSV separator), batches of up to four tables come out:

``services``, ``states``, ``tasks`` (one row per record) and ``attached_data`` (one row per
attached-data key/value of any record, or of one of its ``started``/``completed`` events).

**JSON** (preferred): a JSON array of records, an object holding one, or JSON Lines. Fields
the schemas map become columns; every other key is attached data (CS 8.5: "key-value pairs
replace 8.1 extensions"), so nothing the vendor sent is dropped. Non-string values are kept
as their JSON text.

**CSV**: no header row (the document's samples have none) and undocumented columns. We
assume the order in :data:`DEFAULT_CSV_COLUMNS` (docs/genesys_context_services.md), then
the attached-data keys a user declares per file type (``CsvLayout.attached_data_keys``);
``CsvLayout.columns`` replaces the whole order per file type. A row with another number of
fields fails with the file name and line number instead of shifting values into the wrong
columns. An empty field is null (CSV cannot tell an empty string from a missing value).

Zip and gzip files are opened by extension (``.zip``, ``.gz``); a zip may hold several
members, each parsed in turn.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

__all__ = [
    "ATTACHED_DATA",
    "DEFAULT_CSV_COLUMNS",
    "SCHEMAS",
    "SERVICES",
    "STATES",
    "TABLES",
    "TASKS",
    "CsvLayout",
    "GmsFileError",
    "empty_tables",
    "iter_file_tables",
]

TS = pa.timestamp("ms", tz="UTC")
S = pa.string()

_EVENT = (
    "timestamp",
    "interaction_id",
    "application_type",
    "application_id",
    "resource_type",
    "resource_id",
    "media_type",
)
_SERVICE_STARTED = ("timestamp", "session_id", *_EVENT[1:])


def _event_fields(event: str, names: Sequence[str]) -> list[pa.Field]:
    return [
        pa.field(f"{event}_at" if n == "timestamp" else f"{event}_{n}", TS if n == "timestamp" else S)
        for n in names
    ]


SERVICES = pa.schema(
    [
        pa.field("service_id", S, nullable=False),
        pa.field("service_type", S),
        pa.field("customer_id", S),
        pa.field("contact_key", S),
        pa.field("active", pa.bool_()),
        pa.field("est_duration", pa.int64()),
        *_event_fields("started", _SERVICE_STARTED),
        *_event_fields("completed", _EVENT),
    ]
)
STATES = pa.schema(
    [
        pa.field("service_id", S, nullable=False),
        pa.field("state_id", S, nullable=False),
        pa.field("state_type", S),
        pa.field("active", pa.bool_()),
        pa.field("est_duration", pa.int64()),
        *_event_fields("started", _EVENT),
        *_event_fields("completed", _EVENT),
    ]
)
TASKS = pa.schema(
    [
        pa.field("service_id", S, nullable=False),
        pa.field("state_id", S),
        pa.field("task_id", S, nullable=False),
        pa.field("task_type", S),
        pa.field("active", pa.bool_()),
        pa.field("est_duration", pa.int64()),
        *_event_fields("started", _EVENT),
        *_event_fields("completed", _EVENT),
    ]
)
ATTACHED_DATA = pa.schema(
    [
        pa.field("service_id", S, nullable=False),
        pa.field("record_type", S, nullable=False),
        pa.field("record_id", S),
        pa.field("event", S),
        pa.field("key", S, nullable=False),
        pa.field("value", S),
    ]
)
SCHEMAS: dict[str, pa.Schema] = {
    "services": SERVICES,
    "states": STATES,
    "tasks": TASKS,
    "attached_data": ATTACHED_DATA,
}
TABLES = tuple(SCHEMAS)

#: The CSV column order we assume (undocumented by Genesys). Dotted names are event fields.
DEFAULT_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "services": (
        "service_id",
        "service_type",
        "customer_id",
        "contact_key",
        "active",
        "est_duration",
        *(f"started.{n}" for n in _SERVICE_STARTED),
        *(f"completed.{n}" for n in _EVENT),
    ),
    "states": (
        "service_id",
        "state_id",
        "state_type",
        "active",
        "est_duration",
        *(f"started.{n}" for n in _EVENT),
        *(f"completed.{n}" for n in _EVENT),
    ),
    "tasks": (
        "service_id",
        "state_id",
        "task_id",
        "task_type",
        "active",
        "est_duration",
        *(f"started.{n}" for n in _EVENT),
        *(f"completed.{n}" for n in _EVENT),
    ),
}

#: Record type in ``attached_data`` and the id field naming the record, per file type.
_RECORD = {"services": ("service", None), "states": ("state", "state_id"), "tasks": ("task", "task_id")}
#: Column names that skip a CSV field.
SKIP = frozenset({"", "-", "_"})
#: Rows per emitted table batch (bounds memory on large exports).
BATCH_ROWS = 50_000


class GmsFileError(ValueError):
    """A landed GMS file cannot be read as declared. Names the file and the line or record.

    The file stays in the raw zone unchanged; fix the declared layout (or ask Genesys) and
    re-run the tables task.
    """


@dataclass(frozen=True)
class CsvLayout:
    """How to read CSV exports, whose columns Genesys does not document.

    :param columns: per file type (``services``, ``states``, ``tasks``), the complete column
        order, replacing :data:`DEFAULT_CSV_COLUMNS` for that type. Names of our columns
        (``service_id``, ``started.timestamp``...) fill them; any other name is an attached-
        data key (``started.<key>`` for one of an event); ``""`` or ``"-"`` skips a field.
    :param attached_data_keys: per file type, the attached-data keys whose values follow the
        columns, in the order your GMS writes them.
    :param encoding: text encoding of the files (UTF-8 assumed; undocumented).
    :param quotechar: quote character of quoted fields (``None``: fields are never quoted).
    """

    columns: Mapping[str, Sequence[str]] = field(default_factory=dict)
    attached_data_keys: Mapping[str, Sequence[str]] = field(default_factory=dict)
    encoding: str = "utf-8"
    quotechar: str | None = '"'

    def __post_init__(self) -> None:
        for what, mapping in (("columns", self.columns), ("attached_data_keys", self.attached_data_keys)):
            unknown = sorted(set(mapping) - set(DEFAULT_CSV_COLUMNS))
            if unknown:
                raise ValueError(
                    f"csv {what}: unknown file type(s) {unknown}; known: {list(DEFAULT_CSV_COLUMNS)}"
                )
            for kind, names in mapping.items():
                if isinstance(names, str) or not all(isinstance(n, str) for n in names):
                    raise ValueError(f"csv {what}[{kind!r}] must be a list of names")
        for kind, names in self.columns.items():
            id_field = "task_id" if kind == "tasks" else "state_id" if kind == "states" else "service_id"
            for needed in {"service_id", id_field}:
                if needed not in names:
                    raise ValueError(f"csv columns[{kind!r}] must include {needed!r}")

    def order(self, kind: str) -> list[str]:
        """The full column order of ``kind`` files."""
        base = list(self.columns.get(kind, DEFAULT_CSV_COLUMNS[kind]))
        return base + list(self.attached_data_keys.get(kind, ()))


# --------------------------------------------------------------------------- opening


def open_members(raw: bytes, name: str, compression: str) -> list[tuple[str, bytes]]:
    """The decompressed payload(s) of a file: ``[(name, bytes)]``, one per zip member."""
    try:
        if compression == "gzip":
            return [(name, gzip.decompress(raw))]
        if compression == "zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                return [
                    (f"{name}!{m.filename}", archive.read(m)) for m in archive.infolist() if not m.is_dir()
                ]
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise GmsFileError(
            f"{name}: not a readable {compression} file ({exc}); it may have been cut short"
        ) from None
    return [(name, raw)]


# --------------------------------------------------------------------------- values


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _where(name: str, where: str, field_name: str) -> str:
    return f"{name}, {where}, field {field_name!r}"


def _timestamp(value: Any, at: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    raise GmsFileError(f"{at}: expected an ISO-8601 date/time")


def _int(value: Any, at: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise GmsFileError(f"{at}: expected an integer")


def _bool(value: Any, at: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise GmsFileError(f"{at}: expected true or false")


# --------------------------------------------------------------------------- rows


class _Batch:
    """Rows of one file, flushed as Arrow tables every :data:`BATCH_ROWS` records."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.schema = SCHEMAS[kind]
        self.rows: dict[str, list[Any]] = {f.name: [] for f in self.schema}
        self.attached: dict[str, list[Any]] = {f.name: [] for f in ATTACHED_DATA}
        self.count = 0

    def add(
        self, row: Mapping[str, Any], attached: Iterable[tuple[str | None, str, Any]], name: str, at: str
    ) -> None:
        kind = self.kind
        record_type, id_field = _RECORD[kind]
        for column in ("service_id", *([id_field] if id_field else [])):
            if not row.get(column):
                raise GmsFileError(f"{name}, {at}: {column} is missing")
        if row.get("active") is None:
            # Not sent (JSON): a record without a completed event is still active.
            row = {**row, "active": row.get("completed_at") is None}
        for f in self.schema:
            self.rows[f.name].append(row.get(f.name))
        for event, key, value in attached:
            self.attached["service_id"].append(row["service_id"])
            self.attached["record_type"].append(record_type)
            self.attached["record_id"].append(row[id_field] if id_field else None)
            self.attached["event"].append(event)
            self.attached["key"].append(key)
            self.attached["value"].append(_text(value))
        self.count += 1

    def flush(self) -> dict[str, pa.Table]:
        tables = {
            self.kind: pa.table(self.rows, schema=self.schema),
            "attached_data": pa.table(self.attached, schema=ATTACHED_DATA),
        }
        self.rows = {k: [] for k in self.rows}
        self.attached = {k: [] for k in self.attached}
        self.count = 0
        return tables


def _column(name: str) -> str:
    """Wire name -> table column (``started.timestamp`` -> ``started_at``)."""
    event, dot, sub = name.partition(".")
    if not dot:
        return name
    return f"{event}_at" if sub == "timestamp" else f"{event}_{sub}"


def _convert(schema: pa.Schema, column: str, value: Any, at: str) -> Any:
    type_ = schema.field(column).type
    if type_ == TS:
        return _timestamp(value, at)
    if pa.types.is_integer(type_):
        return _int(value, at)
    if pa.types.is_boolean(type_):
        return _bool(value, at)
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        raise GmsFileError(f"{at}: expected a single value, got a JSON {type(value).__name__}")
    return _text(value)


def _json_record(
    kind: str, record: Any, name: str, where: str
) -> tuple[dict[str, Any], list[tuple[str | None, str, Any]]]:
    if not isinstance(record, dict):
        raise GmsFileError(f"{name}, {where}: expected a JSON object, got {type(record).__name__}")
    schema = SCHEMAS[kind]
    row: dict[str, Any] = {}
    attached: list[tuple[str | None, str, Any]] = []
    for key, value in record.items():
        if key in ("started", "completed") and (isinstance(value, dict) or value is None):
            for sub, sub_value in (value or {}).items():
                column = _column(f"{key}.{sub}")
                if column in schema.names:
                    row[column] = _convert(schema, column, sub_value, _where(name, where, f"{key}.{sub}"))
                elif sub_value is not None:
                    attached.append((key, sub, sub_value))
        elif key in schema.names and not key.endswith("_at"):
            row[key] = _convert(schema, key, value, _where(name, where, key))
        elif value is not None:
            attached.append((None, key, value))
    return row, attached


def _json_records(text: str, kind: str, name: str) -> Iterator[tuple[str, Any]]:
    """Records of a JSON array, of an object holding one, or of JSON Lines."""
    body = text.strip()
    if not body:
        return
    document: Any = None
    if body[0] == "[":
        try:
            document = json.loads(body)
        except json.JSONDecodeError as exc:
            raise GmsFileError(f"{name}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    elif body[0] == "{":
        try:
            document = json.loads(body)
        except ValueError:
            document = None  # several objects: JSON Lines
    if isinstance(document, dict):
        held = [v for k, v in document.items() if isinstance(v, list) and k.lower() in (kind, kind[:-1])]
        document = held[0] if held else [document]
    if isinstance(document, list):
        for index, record in enumerate(document):
            yield f"record {index}", record
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise GmsFileError(f"{name}, line {number}: not valid JSON ({exc.msg})") from None


def _csv_rows(text: str, separator: str, layout: CsvLayout) -> Iterator[tuple[int, list[str]]]:
    if len(separator) == 1:
        reader = csv.reader(
            io.StringIO(text, newline=""),
            delimiter=separator,
            quotechar=layout.quotechar or '"',
            quoting=csv.QUOTE_MINIMAL if layout.quotechar else csv.QUOTE_NONE,
            strict=True,
        )
        line = 1
        try:
            for row in reader:
                if row:
                    yield line, row
                line = reader.line_num + 1
        except csv.Error as exc:
            raise GmsFileError(f"line {line}: {exc}") from None
        return
    # csv cannot split on a multi-character separator: split plainly (no quoting).
    for number, raw_line in enumerate(text.splitlines(), start=1):
        if raw_line:
            yield number, raw_line.split(separator)


def _csv_record(
    kind: str, order: Sequence[str], fields: Sequence[str], name: str, line: int
) -> tuple[dict[str, Any], list[tuple[str | None, str, Any]]]:
    schema = SCHEMAS[kind]
    row: dict[str, Any] = {}
    attached: list[tuple[str | None, str, Any]] = []
    for wire, value in zip(order, fields, strict=True):
        if wire in SKIP:
            continue
        column = _column(wire)
        if column in schema.names:
            row[column] = _convert(schema, column, value, _where(name, f"line {line}", wire))
        elif value != "":
            event, dot, sub = wire.partition(".")
            attached.append(
                (event, sub, value) if dot and event in ("started", "completed") else (None, wire, value)
            )
    return row, attached


def iter_file_tables(
    raw: bytes,
    *,
    name: str,
    file_type: str,
    fmt: str,
    compression: str,
    separator: str = ",",
    layout: CsvLayout | None = None,
) -> Iterator[dict[str, pa.Table]]:
    """Parse one landed export file into batches of ``{file_type: table, "attached_data": table}``.

    :param raw: the file's bytes as landed (compressed or not).
    :param name: the file's name (shown in errors).
    :param file_type: ``services``, ``states`` or ``tasks``.
    :param fmt: ``json`` or ``csv`` (the export's ``format``).
    :param compression: ``uncompressed``, ``zip`` or ``gzip`` (from the name's extension).
    :param separator: the CSV separator the export asked for.
    :param layout: how to read CSV columns (defaults: :data:`DEFAULT_CSV_COLUMNS`, no attached data).
    :raises GmsFileError: naming the file and the line or record at fault.
    """
    if file_type not in DEFAULT_CSV_COLUMNS:
        raise GmsFileError(f"{name}: unknown file type {file_type!r}")
    layout = layout or CsvLayout()
    for member, payload in open_members(raw, name, compression):
        try:
            text = payload.decode(layout.encoding)
        except UnicodeDecodeError as exc:
            raise GmsFileError(f"{member}: not {layout.encoding} text at byte {exc.start}") from None
        batch = _Batch(file_type)
        if fmt == "json":
            records: Iterator[tuple[str, dict[str, Any], list[Any]]] = (
                (where, *_json_record(file_type, record, member, where))
                for where, record in _json_records(text, file_type, member)
            )
        else:
            order = layout.order(file_type)
            records = (
                (
                    f"line {line}",
                    *_csv_record(
                        file_type,
                        order,
                        _checked(fields, order, member, line, file_type, layout),
                        member,
                        line,
                    ),
                )
                for line, fields in _prefixed(_csv_rows(text, separator, layout), member)
            )
        for where, row, attached in records:
            batch.add(row, attached, member, where)
            if batch.count >= BATCH_ROWS:
                yield batch.flush()
        yield batch.flush()


def _prefixed(rows: Iterator[tuple[int, list[str]]], name: str) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from rows
    except GmsFileError as exc:
        raise GmsFileError(f"{name}, {exc}") from None


def _checked(
    fields: list[str], order: Sequence[str], name: str, line: int, kind: str, layout: CsvLayout
) -> list[str]:
    if len(fields) != len(order):
        declared = "your csv_columns" if kind in layout.columns else "the assumed column order"
        extra = len(layout.attached_data_keys.get(kind, ()))
        raise GmsFileError(
            f"{name}, line {line}: {len(fields)} fields, but {declared} for {kind} files"
            f"{f' plus {extra} attached-data key(s)' if extra else ''} gives {len(order)}. "
            "Nothing was shifted or dropped. GMS does not document its CSV columns: declare yours "
            "(csv_columns / csv_attached_data_keys), check for a separator inside an unquoted value, "
            "or export with format='json'."
        )
    return fields


def empty_tables() -> dict[str, pa.Table]:
    """Every table with no rows (an interval without services still publishes them)."""
    return {name: schema.empty_table() for name, schema in SCHEMAS.items()}
