"""GMS export files -> Arrow tables: formats, compressions, CSV column layouts and clear errors."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pyarrow as pa
import pytest
from genesys_context_services_fixtures import Gms, gms

from contact_center_provider.hooks.genesys_context_services_files import compression_of
from contact_center_provider.sandbox.genesys_context_services import ATTACHED_DATA_KEYS, CSV_COLUMNS
from contact_center_provider.transforms.genesys_context_services import (
    DEFAULT_CSV_COLUMNS,
    SCHEMAS,
    CsvLayout,
    GmsFileError,
    empty_tables,
    iter_file_tables,
)

__all__ = ["gms"]

WITH_ATTACHED = CsvLayout(attached_data_keys=ATTACHED_DATA_KEYS)


def kind_of(name: str) -> str:
    return next(k for k in ("services", "states", "tasks") if f"_{k}." in name)


def tables(
    gms: Gms, paths: list[str], fmt: str, separator: str = ",", layout: CsvLayout | None = WITH_ATTACHED
) -> dict[str, pa.Table]:
    """Every table of an export, concatenated over its files and batches."""
    parts: dict[str, list[pa.Table]] = {name: [] for name in SCHEMAS}
    for path in paths:
        name = path.rsplit("/", 1)[-1]
        for batch in iter_file_tables(
            gms.read(path),
            name=name,
            file_type=kind_of(name),
            fmt=fmt,
            compression=compression_of(name),
            separator=separator,
            layout=layout,
        ):
            for table_name, table in batch.items():
                parts[table_name].append(table)
    return {name: pa.concat_tables(p) if p else SCHEMAS[name].empty_table() for name, p in parts.items()}


def sorted_rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: json.dumps(r, default=str, sort_keys=True))


def test_our_assumed_csv_order_is_what_the_sandbox_writes() -> None:
    assert DEFAULT_CSV_COLUMNS == CSV_COLUMNS


def test_csv_and_json_of_one_export_give_the_same_tables(gms: Gms) -> None:
    from_json = tables(gms, gms.export(format="json", file_prefix="/x/j_").json(), "json")
    from_csv = tables(gms, gms.export(format="csv", file_prefix="/x/c_").json(), "csv")
    for name in SCHEMAS:
        assert from_json[name].schema == SCHEMAS[name]
        assert sorted_rows(from_json[name]) == sorted_rows(from_csv[name]), name
    services = from_json["services"]
    assert services.num_rows > 10 and services.column("started_at").null_count == 0
    attached = from_json["attached_data"].to_pylist()
    assert {"Résidence", "Catégorie"} <= {r["key"] for r in attached}
    assert any(r["value"] == "東京" for r in attached)
    assert {r["record_type"] for r in attached} == {"service", "state", "task"}
    # A service without a completed event is active; states point at their service.
    active = services.filter(pa.compute.field("active")).column("completed_at")
    assert active.null_count == len(active) > 0
    service_ids = set(services.column("service_id").to_pylist())
    assert set(from_json["states"].column("service_id").to_pylist()) <= service_ids


@pytest.mark.parametrize("compression", ["zip", "gzip"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_compressed_files_parse_like_plain_ones(gms: Gms, compression: str, fmt: str) -> None:
    plain = tables(gms, gms.export(format=fmt, file_prefix="/x/p_").json(), fmt)
    packed = tables(gms, gms.export(format=fmt, compression=compression, file_prefix="/x/z_").json(), fmt)
    assert all(plain[n].equals(packed[n]) for n in SCHEMAS)


@pytest.mark.parametrize("separator", [";", "|", "\t", "||"])
def test_any_separator_and_windows_line_ends(gms: Gms, separator: str) -> None:
    gms.settings(line_terminator="crlf")
    reference = tables(gms, gms.export(format="json", file_prefix="/x/j_").json(), "json")
    parsed = tables(gms, gms.export(separator=separator, file_prefix="/x/s_").json(), "csv", separator)
    assert all(sorted_rows(reference[n]) == sorted_rows(parsed[n]) for n in SCHEMAS)


def test_a_row_with_the_wrong_field_count_fails_naming_file_and_line(gms: Gms) -> None:
    gms.settings(csv_quoting="none")
    path = gms.export().json()[0]
    name = path.rsplit("/", 1)[-1]
    lines = gms.read(path).decode().splitlines()
    width = len(CSV_COLUMNS["services"]) + len(ATTACHED_DATA_KEYS["services"])
    bad = next(i for i, line in enumerate(lines, start=1) if len(line.split(",")) != width)
    with pytest.raises(GmsFileError) as caught:
        tables(gms, [path], "csv")
    message = str(caught.value)
    assert message.startswith(f"{name}, line {bad}: {width + 1} fields")
    assert "Nothing was shifted" in message and "format='json'" in message


def test_the_default_order_without_attached_keys_is_refused_not_shifted(gms: Gms) -> None:
    path = gms.export().json()[0]
    with pytest.raises(
        GmsFileError, match=r"line 1: 26 fields, but the assumed column order for services files gives 21"
    ):
        tables(gms, [path], "csv", layout=CsvLayout())


def test_a_user_column_order_per_file_type(gms: Gms) -> None:
    """A GMS writing services in another order: declare it, skip a field, name attached keys."""
    gms.settings(csv_attached_data=False)
    path = gms.export(file_prefix="/x/o_").json()[0]
    name = path.rsplit("/", 1)[-1]
    order = list(CSV_COLUMNS["services"])
    order[order.index("est_duration")] = "-"  # skipped
    order[order.index("contact_key")] = "ANI"  # an attached-data key, not a column
    layout = CsvLayout(columns={"services": order})
    (batch,) = iter_file_tables(
        gms.read(path), name=name, file_type="services", fmt="csv", compression="uncompressed", layout=layout
    )
    assert batch["services"].column("est_duration").null_count == batch["services"].num_rows
    assert batch["services"].column("contact_key").null_count == batch["services"].num_rows
    anis = [r for r in batch["attached_data"].to_pylist() if r["key"] == "ANI"]
    assert anis and all(r["value"].startswith("0") for r in anis)


def test_a_layout_must_keep_the_ids() -> None:
    with pytest.raises(ValueError, match="must include 'task_id'"):
        CsvLayout(columns={"tasks": ["service_id", "state_id"]})
    with pytest.raises(ValueError, match="unknown file type"):
        CsvLayout(attached_data_keys={"invoices": ["x"]})


def test_json_lines_and_wrapped_arrays_are_read(gms: Gms) -> None:
    reference = tables(gms, gms.export(format="json", file_prefix="/x/a_").json(), "json")
    gms.settings(json_layout="lines")
    lines = tables(gms, gms.export(format="json", file_prefix="/x/l_").json(), "json")
    assert all(reference[n].equals(lines[n]) for n in SCHEMAS)
    wrapped = json.dumps(
        {"services": [{"service_id": "1", "started": {"timestamp": "2026-11-02T14:00:00Z"}}]}
    )
    (batch,) = iter_file_tables(
        wrapped.encode(), name="w_services.json", file_type="services", fmt="json", compression="uncompressed"
    )
    assert batch["services"].column("service_id").to_pylist() == ["1"]


def test_extensions_inside_events_become_attached_data() -> None:
    """CS 8.1 style: an extension object inside ``started`` is kept as JSON text, not dropped."""
    record = {
        "service_id": "9",
        "state_id": "0",
        "state_type": 100,
        "started": {"timestamp": "2010-05-18T15:23:34.447Z", "media_type": 2, "Feedback": {"rating": 7}},
    }
    (batch,) = iter_file_tables(
        json.dumps([record]).encode(),
        name="x_states.json",
        file_type="states",
        fmt="json",
        compression="uncompressed",
    )
    assert batch["states"].to_pylist()[0]["started_media_type"] == "2"
    assert batch["attached_data"].to_pylist() == [
        {
            "service_id": "9",
            "record_type": "state",
            "record_id": "0",
            "event": "started",
            "key": "Feedback",
            "value": '{"rating":7}',
        }
    ]


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        (
            {"service_id": "1", "started": {"timestamp": "soon"}},
            "record 0, field 'started.timestamp': expected an ISO-8601",
        ),
        ({"service_id": "1", "est_duration": "long"}, "record 0, field 'est_duration': expected an integer"),
        ({"service_type": 1}, "record 0: service_id is missing"),
    ],
)
def test_bad_values_name_the_file_record_and_field(record: dict[str, Any], fragment: str) -> None:
    with pytest.raises(GmsFileError, match=fragment):
        list(
            iter_file_tables(
                json.dumps([record]).encode(),
                name="bad_services.json",
                file_type="services",
                fmt="json",
                compression="uncompressed",
            )
        )


def test_a_cut_archive_is_an_error_not_an_empty_table(gms: Gms) -> None:
    path = gms.export(compression="gzip").json()[0]
    raw = gms.read(path)
    with pytest.raises(GmsFileError, match="cut short"):
        list(
            iter_file_tables(
                raw[: len(raw) // 2],
                name="t_services.csv.gz",
                file_type="services",
                fmt="csv",
                compression="gzip",
            )
        )


def test_a_zip_with_several_members_is_read_member_by_member() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a_tasks.json", json.dumps([{"service_id": "1", "task_id": "a"}]))
        archive.writestr("b_tasks.json", json.dumps([{"service_id": "1", "task_id": "b"}]))
    batches = list(
        iter_file_tables(
            buffer.getvalue(), name="t_tasks.zip", file_type="tasks", fmt="json", compression="zip"
        )
    )
    assert [b["tasks"].column("task_id").to_pylist() for b in batches] == [["a"], ["b"]]


def test_empty_files_give_empty_tables() -> None:
    (batch,) = iter_file_tables(
        b"", name="e_services.csv", file_type="services", fmt="csv", compression="uncompressed"
    )
    assert batch["services"].num_rows == 0 and set(empty_tables()) == set(SCHEMAS)
