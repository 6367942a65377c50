"""Shared Arrow helpers for the vendor transforms: JSON parsing, nesting, unknown fields.

The fast path parses a whole raw page with :func:`pyarrow.json.read_json` against an
explicit nested type (the fields we map), lets pyarrow infer anything else, and
flattens nested lists with Arrow/numpy index arithmetic, so no Python code runs per
record. When pyarrow rejects a page (a field of the wrong type), the slow path
:func:`check_record` walks the decoded JSON in Python to name the record and field
at fault, or to repair what is only unusual (for instance microsecond timestamps).
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

TS = pa.timestamp("ms", tz="UTC")

#: A struct with no declared fields: its keys are data (e.g. participant attributes),
#: so they are inferred by pyarrow and never reported as unknown fields.
OPEN_STRUCT = pa.struct([])


class RecordError(ValueError):
    """A vendor record has a field of the wrong type.

    The message names the record (e.g. the conversation id, when it is known), the
    field path inside it and what was expected. The raw page stays in the raw zone,
    so the fix is either a schema change on our side or a support case with the vendor.
    """


def read_json_page(raw: bytes, parse_type: pa.StructType, *, infer: bool) -> pa.Table:
    """Parse one JSON document (compact or pretty-printed) into a one-row table.

    :param raw: the bytes of one JSON object.
    :param parse_type: the explicit type of the fields we map.
    :param infer: infer the type of fields outside ``parse_type`` (needed to count them
        and to read open structs); otherwise they are skipped.
    :raises pyarrow.ArrowInvalid: the document does not match ``parse_type``.
    """
    body = raw.strip()
    parse = pj.ParseOptions(
        explicit_schema=pa.schema(list(parse_type)),
        unexpected_field_behavior="infer" if infer else "ignore",
        # A compact page is one line and parses as one block; a pretty-printed page
        # needs the slower chunker that understands newlines inside an object.
        newlines_in_values=b"\n" in body,
    )
    read = pj.ReadOptions(block_size=max(len(body) + 1, 1 << 16), use_threads=False)
    return pj.read_json(io.BytesIO(body), read_options=read, parse_options=parse)


def ints(array: pa.Array) -> np.ndarray:
    """View a null-free integer array as numpy without copying.

    ``Array.to_numpy`` would import pandas on first use (~70 MB of RSS and a second of
    import); reading the data buffer directly does not.
    """
    kind = "i" if pa.types.is_signed_integer(array.type) else "u"
    dtype = np.dtype(f"{kind}{array.type.bit_width // 8}")
    buffer = array.buffers()[1]
    if buffer is None or len(array) == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize)


def arrow_ints(values: np.ndarray) -> pa.Array:
    """Wrap a numpy integer array as an Arrow array without copying (and without pandas)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


def arrow_strings(values: list[str]) -> pa.StringArray:
    """A string array of ``values`` built from buffers (``pa.array`` would import pandas)."""
    encoded = [value.encode() for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(item) for item in encoded], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of ``schema`` without rows.

    ``Schema.empty_table()`` goes through pandas' compatibility layer and imports pandas
    (~1.5 s of CPU and ~70 MB of RSS the first time); building from no batches does not.
    """
    return pa.Table.from_batches([], schema=schema)


def list_children(lists: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Flatten a list array.

    :returns: the child values, the index of each value's parent list and each
        value's 0-based ordinal inside its parent.
    """
    values = lists.flatten()
    parent = ints(pc.list_parent_indices(lists))
    offsets = ints(lists.offsets)
    ordinal = np.arange(len(values), dtype=np.int64) - (offsets[parent] - offsets[0])
    return values, parent, ordinal.astype(np.int32)


def child(struct: pa.Array, name: str, type_: pa.DataType) -> pa.Array:
    """Return field ``name`` of ``struct``, or all nulls of ``type_`` when it is absent.

    A present field is returned as parsed: a nested field may carry extra inferred
    children (unknown fields, attribute keys), which callers rely on.
    """
    idx = struct.type.get_field_index(name)
    if idx == -1:
        return pa.nulls(len(struct), type_)
    return struct.field(idx)


def _is_list_of_structs(type_: pa.DataType) -> bool:
    return bool(pa.types.is_list(type_) and pa.types.is_struct(type_.value_type))


def count_unknown(
    struct: pa.Array, expected: pa.StructType, path: str, counter: Counter[str], open_fields: frozenset[str]
) -> None:
    """Count non-null occurrences of fields in ``struct`` that ``expected`` does not declare.

    Recurses into declared struct and list-of-struct fields whose inferred type differs
    from the declared one; an identical type proves there is nothing unknown below.
    ``open_fields`` (e.g. ``attributes``) hold data keys, not fields, and are skipped.
    """
    if struct.type == expected:
        return
    for i, field in enumerate(struct.type):
        name = field.name
        idx = expected.get_field_index(name)
        values = struct.field(i)
        if idx == -1:
            present = len(values) - values.null_count
            if present:
                counter[path + name] += present
            continue
        if name in open_fields:
            continue
        want = expected.field(idx).type
        if values.type == want:
            continue
        if pa.types.is_struct(want) and pa.types.is_struct(values.type):
            count_unknown(values, want, f"{path}{name}.", counter, open_fields)
        elif _is_list_of_structs(want) and _is_list_of_structs(values.type):
            count_unknown(values.flatten(), want.value_type, f"{path}{name}.", counter, open_fields)


def table(schema: pa.Schema, columns: dict[str, Any]) -> pa.Table:
    """Build a table with exactly ``schema``, casting numpy ordinals and filling absent columns."""
    arrays = []
    length = None
    for values in columns.values():
        length = len(values)
        break
    for field in schema:
        values = columns.get(field.name)
        if values is None:
            values = pa.nulls(length or 0, field.type)
        elif isinstance(values, np.ndarray):
            values = arrow_ints(values).cast(field.type)
        elif values.type != field.type:
            values = values.cast(field.type)
        arrays.append(values)
    return pa.Table.from_arrays(arrays, schema=schema)


# --- slow path ---------------------------------------------------------------------------


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _fail(record: str, path: str, want: str, value: Any) -> RecordError:
    # The value itself is not quoted: it may be personal data.
    return RecordError(f"{record}: field {path!r} must be {want}, got a JSON {_json_kind(value)}")


def normalize_timestamp(value: str) -> str | None:
    """Return ``value`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC, or None if it is not ISO-8601."""
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    ts = ts.astimezone(UTC)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _open_value(value: Any) -> Any:
    # Open-struct values are strings on the wire; anything else is kept as its JSON text.
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _scalar_mismatch(value: Any, type_: pa.DataType) -> str | None:
    """What ``value`` should have been, or None when it fits ``type_``."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if pa.types.is_string(type_):
        return None if isinstance(value, str) else "a string"
    if pa.types.is_boolean(type_):
        return None if isinstance(value, bool) else "a boolean"
    if pa.types.is_integer(type_):
        return None if is_number and isinstance(value, int) else "an integer"
    if pa.types.is_floating(type_):
        return None if is_number else "a number"
    return None


def check_record(
    value: Any, type_: pa.DataType, record: str, path: str, unknown_path: str, counter: Counter[str]
) -> Any:
    """Check ``value`` against ``type_`` and return it cleaned for a re-parse by Arrow.

    Fields ``type_`` does not declare are counted in ``counter`` (under ``unknown_path``)
    and dropped; timestamps are normalised to millisecond UTC; open-struct values become
    strings.

    :raises RecordError: naming ``record`` and ``path`` when a value has the wrong type.
    """
    if value is None:
        return None
    if pa.types.is_struct(type_):
        if not isinstance(value, dict):
            raise _fail(record, path, "an object", value)
        if type_.num_fields == 0:
            return {str(k): _open_value(v) for k, v in value.items()}
        out = {}
        for key, item in value.items():
            idx = type_.get_field_index(key)
            if idx == -1:
                if item is not None:
                    counter[unknown_path + key] += 1
                continue
            sub = f"{path}.{key}" if path else key
            out[key] = check_record(
                item, type_.field(idx).type, record, sub, f"{unknown_path}{key}.", counter
            )
        return out
    if pa.types.is_list(type_):
        if not isinstance(value, list):
            raise _fail(record, path, "an array", value)
        return [
            check_record(item, type_.value_type, record, f"{path}[{i}]", unknown_path, counter)
            for i, item in enumerate(value)
        ]
    if pa.types.is_timestamp(type_):
        normal = normalize_timestamp(value) if isinstance(value, str) else None
        if normal is None:
            raise _fail(record, path, "an ISO-8601 timestamp string", value)
        return normal
    want = _scalar_mismatch(value, type_)
    if want:
        raise _fail(record, path, want, value)
    return value


def load_json(raw: bytes, what: str) -> Any:
    """``json.loads`` that reports a malformed document as a :class:`RecordError`."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise RecordError(f"{what} is not valid JSON: {exc}") from None
