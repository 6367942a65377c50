"""CDDS JSON Lines -> tables: the reference's own examples, typing rules, unknown fields, bad records."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from contact_center_provider.transforms.genesys_cdds import (
    CddsRecordError,
    build_tables,
    classify_member,
    iter_record_batches,
    parse_timestamp,
)
from contact_center_provider.transforms.genesys_cdds_schemas import (
    CONTACT_ATTRIBUTES,
    CONTACTS,
    DOCUMENTS,
    INTERACTIONS,
)

# The reference's examples (Contact History Export Reference), trimmed where long.
INTERACTION = {
    "STARTDATE": "2012-03-30T10:29:50.407Z",
    "MIMETYPE": "message/rfc822",
    "ENTITYTYPEID": 0,
    "SUBTYPEID": "InboundNew",
    "CONTACTID": "0000Xa6VJTWV000M",
    "OWNERID": 126,
    "CREATORAPPID": 171,
    "MEDIATYPEID": "email",
    "STATUS": 3,
    "TENANTID": 101,
    "IXNID": "0002Ha7QB2MX000R",
    "FROMADDRESS": "Client1@cust.dev",
    "CANBEPARENT": 1,
    "ENDDATE": "2012-03-30T10:29:32.957Z",
    "THREADHASH": 20772491,
    "EXTERNALID": "",
    "ALLATTRIBUTES": {
        "RStrategyDBID": "252",
        "ServiceObjective": 0,
        "IWAttachedDataInformation": {"DispositionCode.Key": "DispositionCode"},
        "RRequestedSkills": {},
    },
    "TIMESHIFT": 120,
    "SENTDATE": "2012-03-30T10:28:14.000Z",
    "THESIZE": 622,
    "TYPEID": "Inbound",
}
DOCUMENT = {
    "ID": "0003Ra7VSTDP03H0",
    "MIMETYPE": "message/rfc822",
    "DESCRIPTION": "",
    "ENTITYTYPEID": 0,
    "CONTENT": "",
    "THENAME": "OriginalMsg.eml",
    "DOCUMENTID": "0003Ra7VSTDP03H0",
    "ENTITYID": "0003Ra7VSTDP03FU",
    "THESIZE": 628,
}
CONTACT = {
    "CONTACTID": "00001a57JGQ00039",
    "STRATTRIBUTE4": "Joseph",
    "TENANTID": 101,
    "CREATEDDATE": "2009-08-05T08:30:25.467Z",
    "STRATTRIBUTE2": "A.Joseph@mycompany.com",
    "MODIFIEDDATE": "2009-08-05T08:30:25.513Z",
    "STRATTRIBUTE5": "A",
}
CONTACT_ATTRIBUTE = {
    "ID": "00001a57JGQ0003A",
    "CONTACTID": "00001a57JGQ00039",
    "STRVALUELOWERCASE": "joseph",
    "ISPRIMARY": 1,
    "ATTRIBUTEID": "00001a57JGQ00008",
    "STRVALUE": "Joseph",
    "ATTRIBUTENAME": "LastName",
}


def _write(tmp_path: Path, name: str, records: list[Any]) -> tuple[str, str]:
    path = tmp_path / name.replace("/", "_")
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return name, str(path)


def _ms(text: str) -> int:
    value = parse_timestamp(text)
    assert value is not None
    return value


def test_reference_interaction_and_document_examples(tmp_path: Path) -> None:
    files = [
        _write(tmp_path, "ContactHistory/Interaction-job1.json", [INTERACTION]),
        _write(tmp_path, "ContactHistory/Interaction-Attachment-job1.json", [DOCUMENT]),
    ]
    result = build_tables(files, "interactions")

    assert set(result.tables) == {"interactions", "documents", "enum_labels"}
    interactions = result.tables["interactions"]
    assert interactions.schema == INTERACTIONS
    row = interactions.drop_columns(
        [
            c
            for c in interactions.column_names
            if interactions.schema.field(c).type == pa.timestamp("ms", tz="UTC")
        ]
    ).to_pylist()[0]
    assert row["ixnid"] == "0002Ha7QB2MX000R"
    assert row["status"] == 3 and row["entitytypeid"] == 0 and row["timeshift"] == 120
    assert row["externalid"] == ""
    assert row["strattribute1"] is None  # not sent -> null
    assert json.loads(row["allattributes"]) == INTERACTION["ALLATTRIBUTES"]
    assert row["allattributes_map"] == [
        ("RStrategyDBID", "252"),
        ("ServiceObjective", "0"),
        ("IWAttachedDataInformation", '{"DispositionCode.Key":"DispositionCode"}'),
        ("RRequestedSkills", "{}"),
    ]
    stamps = interactions.select(["startdate", "enddate", "sentdate"]).cast(
        pa.schema([(n, pa.int64()) for n in ("startdate", "enddate", "sentdate")])
    )
    assert stamps.to_pylist()[0] == {
        "startdate": 1333103390407,
        "enddate": 1333103372957,
        "sentdate": 1333103294000,
    }
    documents = result.tables["documents"]
    assert documents.schema == DOCUMENTS
    assert documents.to_pylist() == [{k.lower(): v for k, v in DOCUMENT.items()} | {"content": ""}]
    assert result.unknown_fields == {}


def test_reference_contact_examples_including_the_mixed_case_one(tmp_path: Path) -> None:
    mixed = {"ContactId": "00001a57JGQ00A8TZSA", "tenantid": 101, "createddate": "2015-08-05 08:31:20.78"}
    files = [
        _write(
            tmp_path,
            "Contact-job2.json",
            [CONTACT, mixed, {**CONTACT, "CONTACTID": "c3", "DATEATTRIBUTE1": "1700000000000"}],
        ),
        _write(tmp_path, "Contact-Attribute-job2.json", [CONTACT_ATTRIBUTE]),
    ]
    result = build_tables(files, "contacts")

    contacts = result.tables["contacts"]
    assert contacts.schema == CONTACTS
    assert contacts.column("contactid").to_pylist() == ["00001a57JGQ00039", "00001a57JGQ00A8TZSA", "c3"]
    assert contacts.column("tenantid").to_pylist() == [101, 101, 101]
    created = contacts.column("createddate").cast(pa.int64()).to_pylist()
    assert created[1] == _ms("2015-08-05T08:31:20.780+00:00")  # no zone in the example: UTC
    assert contacts.column("dateattribute1").to_pylist() == [None, None, 1700000000000]
    attributes = result.tables["contact_attributes"]
    assert attributes.schema == CONTACT_ATTRIBUTES
    assert attributes.column("attributename").to_pylist() == ["LastName"]
    assert attributes.column("isprimary").to_pylist() == [1]


def test_enum_labels_are_the_documented_ones(tmp_path: Path) -> None:
    labels = build_tables([], "interactions").tables["enum_labels"].to_pylist()
    as_dict = {(r["column_name"], r["code"]): r["label"] for r in labels}
    assert as_dict[("status", 2)] == "InProcess"
    assert as_dict[("entitytypeid", 5)] == "Callback"
    assert ("entitytypeid", 4) not in as_dict  # the reference skips 4
    assert len(labels) == 4 + 7


def test_missing_files_give_empty_tables_with_their_schemas() -> None:
    result = build_tables([], "contacts")
    assert result.rows == {"contacts": 0, "contact_attributes": 0}  # no enum columns in contacts
    assert result.tables["contacts"].schema == CONTACTS


def test_unknown_fields_are_counted_and_never_crash(tmp_path: Path) -> None:
    records = [
        {**INTERACTION, "GDPRFLAG": 1, "Nested": {"x": 1}},
        {**INTERACTION, "IXNID": "second", "GDPRFLAG": None, "ixnid": "duplicate-in-other-case"},
    ]
    result = build_tables([_write(tmp_path, "Interaction-j.json", records)], "interactions")
    assert result.rows["interactions"] == 2
    assert result.unknown_fields == Counter(
        {"interactions.GDPRFLAG": 1, "interactions.Nested": 1, "interactions.ixnid": 1}
    )
    assert "gdprflag" not in result.tables["interactions"].column_names
    assert result.tables["interactions"].column("ixnid").to_pylist() == ["0002Ha7QB2MX000R", "second"]


def test_allattributes_sent_as_a_json_string_is_read_as_the_object(tmp_path: Path) -> None:
    record = {**INTERACTION, "ALLATTRIBUTES": json.dumps({"LastName": "WALLACE", "n": 0})}
    table = build_tables([_write(tmp_path, "Interaction-j.json", [record])], "interactions").tables[
        "interactions"
    ]
    assert table.column("allattributes_map").to_pylist() == [[("LastName", "WALLACE"), ("n", "0")]]


@pytest.mark.parametrize(
    ("field", "value", "want"),
    [
        ("STATUS", "three", "a 64-bit integer"),
        ("STATUS", True, "a 64-bit integer"),
        ("SUBJECT", 12, "a string"),
        ("STARTDATE", "yesterday", "an ISO-8601 date string"),
        ("ALLATTRIBUTES", [1, 2], "a JSON object"),
        ("THREADHASH", 2**70, "a 64-bit integer"),
    ],
)
def test_wrong_type_names_file_line_record_and_field_not_the_value(
    tmp_path: Path, field: str, value: Any, want: str
) -> None:
    records = [INTERACTION, {**INTERACTION, "IXNID": "BADONE", field: value}]
    with pytest.raises(CddsRecordError) as caught:
        build_tables([_write(tmp_path, "Interaction-j.json", records)], "interactions")
    message = str(caught.value)
    assert message.startswith("Interaction-j.json line 2 (IXNID=BADONE)")
    assert f"field {field!r} must be {want}" in message
    if isinstance(value, str):
        assert value not in message


def test_not_json_and_missing_required_field(tmp_path: Path) -> None:
    with pytest.raises(CddsRecordError, match=r"Interaction-j.json line 2: not a JSON object"):
        build_tables([_write(tmp_path, "Interaction-j.json", [INTERACTION, "{oops"])], "interactions")
    with pytest.raises(CddsRecordError, match=r"line 1: the required field 'IXNID' is missing"):
        build_tables([_write(tmp_path, "Interaction-k.json", [{"STATUS": 1}])], "interactions")


def test_blank_lines_and_a_byte_order_mark_are_tolerated() -> None:
    lines = [b"\xef\xbb\xbf" + json.dumps(CONTACT).encode(), b"", b"  "]
    unknown: Counter[str] = Counter()
    tables = list(iter_record_batches(lines, "contacts", source="c.json", unknown=unknown))
    assert sum(t.num_rows for t in tables) == 1


def test_batches_bound_memory(tmp_path: Path) -> None:
    records = [{**CONTACT, "CONTACTID": f"c{i}"} for i in range(25)]
    unknown: Counter[str] = Counter()
    with open(_write(tmp_path, "Contact-j.json", records)[1], "rb") as handle:
        sizes = [
            t.num_rows
            for t in iter_record_batches(handle, "contacts", source="x", unknown=unknown, batch_rows=10)
        ]
    assert sizes == [10, 10, 5]


@pytest.mark.parametrize(
    ("name", "first", "table"),
    [
        ("Interaction-abc.json", None, "interactions"),
        ("dir/Interaction-Attachment-abc.json", None, "documents"),
        ("Contact-abc.json", None, "contacts"),
        ("Contact-Attribute-abc.json", None, "contact_attributes"),
        ("EmailIn-abc.json", None, "interactions"),
        ("export-part.json", {"IxnId": "x"}, "interactions"),
        ("export-part.json", {"DOCUMENTID": "d"}, "documents"),
        ("export-part.json", {"ATTRIBUTEID": "a", "CONTACTID": "c"}, "contact_attributes"),
        ("export-part.json", {"CONTACTID": "c"}, "contacts"),
        ("export-part.json", {"SOMETHING": 1}, None),
        ("README.txt", None, None),
    ],
)
def test_classify_member(name: str, first: dict[str, Any] | None, table: str | None) -> None:
    assert classify_member(name, first) == table


def test_unrecognised_files_are_listed_not_converted(tmp_path: Path) -> None:
    files = [
        _write(tmp_path, "Interaction-j.json", [INTERACTION]),
        _write(tmp_path, "manifest.json", [{"files": 2}]),
    ]
    result = build_tables(files, "interactions")
    assert result.unrecognised_files == ["manifest.json"]
    assert result.rows["interactions"] == 1
