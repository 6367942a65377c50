"""Explicit Arrow schemas of the Genesys CDDS contact-history tables, from the vendor's JSON Schemas.

Source: the "Contact History Export Reference" (JSON Schema draft-07, ids
``http://genesys.com/gdps/schema/9.0.001.07/{interaction,document,contact,contactattribute}.json``).
Column names are the documented property names in lower case (``IXNID`` -> ``ixnid``,
``FromAddressEmailOut`` -> ``fromaddressemailout``), in the documented order.

Typing rules (the JSON Schemas only say string / integer / object):

* ``integer`` -> ``int64`` (JSON Schema integers have no width).
* strings the reference documents as "Date and time in ISO 8601" -> ``timestamp[ms, UTC]``.
  A value without a zone is taken as UTC: CDDS works in UTC, and the reference's own
  example ``"createddate":"2015-08-05 08:31:20.78"`` carries none.
* ``DATEATTRIBUTE1..3`` are documented as ``string`` with ``format: int64`` and no unit,
  so they stay ``int64`` as sent.
* ``ALLATTRIBUTES`` (an object of user data, values of any JSON type, nested allowed) is
  kept twice: ``allattributes`` the object as JSON text, ``allattributes_map``
  ``map<string, string>`` with string values as they are and other values as JSON text.
* ``STATUS`` and ``ENTITYTYPEID`` stay integers; their documented labels are the rows of
  the ``enum_labels`` lookup table (:data:`ENUM_LABELS`).
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

TS = pa.timestamp("ms", tz="UTC")
STR = pa.string()
INT = pa.int64()
ATTRIBUTES_MAP = pa.map_(pa.string(), pa.string())

Kind = Literal["string", "int", "timestamp", "attributes"]

#: Documented properties of each record type, in the reference's order: (name, kind).
INTERACTION_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("IXNID", "string"),
    ("STATUS", "int"),
    ("ENTITYTYPEID", "int"),
    ("MEDIATYPEID", "string"),
    ("TYPEID", "string"),
    ("SUBTYPEID", "string"),
    ("EXTERNALID", "string"),
    ("OWNERID", "int"),
    ("CONTACTID", "string"),
    ("PARENTID", "string"),
    ("STARTDATE", "timestamp"),
    ("MODIFIEDDATE", "timestamp"),
    ("ENDDATE", "timestamp"),
    ("THREADID", "string"),
    ("CATEGORYID", "string"),
    ("TIMESHIFT", "int"),
    ("SUBJECT", "string"),
    ("TEXT", "string"),
    ("STRUCTUREDTEXT", "string"),
    ("STRUCTTEXTMIMETYPE", "string"),
    ("THECOMMENT", "string"),
    ("TENANTID", "int"),
    ("SUBTENANTID", "int"),
    ("THREADHASH", "int"),
    ("CANBEPARENT", "int"),
    ("CREATORAPPID", "int"),
    ("QUEUENAME", "string"),
    ("ALLATTRIBUTES", "attributes"),
    *((f"STRATTRIBUTE{i}", "string") for i in range(1, 11)),
    *((f"INTATTRIBUTE{i}", "int") for i in range(1, 6)),
    ("ISSPAM", "int"),
    ("WEBSAFEEMAILSTATUS", "string"),
    ("ISCATEGORYAPPROVED", "int"),
    ("STOPPEDREASON", "string"),
    ("LANG", "string"),
    ("FROMADDRESS", "string"),
    ("FROMPERSONAL", "string"),
    ("REPLYTOADDRESS", "string"),
    ("TOADDRESSES", "string"),
    ("CCADDRESSES", "string"),
    ("BCCADDRESSES", "string"),
    ("SENTDATE", "timestamp"),
    ("MAILBOX", "string"),
    ("WHICHRULEMATCHED", "string"),
    ("EMAILOUTID", "string"),
    ("HEADER", "string"),
    ("FromAddressEmailOut", "string"),
    ("FromPersonalEmailOut", "string"),
    ("ReplyToAddressEmailOut", "string"),
    ("ToAddressesEmailOut", "string"),
    ("CcAddressesEmailOut", "string"),
    ("BccAddressesEmailOut", "string"),
    ("SentDateEmailOut", "timestamp"),
    ("FORWARD", "int"),
    ("REFERENCEID", "string"),
    ("REVIEWERID", "int"),
    ("STANDARDRESPONSEID", "string"),
    ("ESTABLISHEDDATE", "timestamp"),
    ("RELEASEDDATE", "timestamp"),
    ("DURATION", "int"),
    ("OUTCOME", "string"),
    ("PHONENUMBER", "string"),
    ("TCONNECTIONID", "string"),
    ("CALLBACKSTATUS", "int"),
    ("DETAILEDDESCRIPTION", "string"),
    ("CUSTOMDATA", "string"),
    ("DESIREDRESPONSETYPE", "int"),
    ("STARTTIME", "timestamp"),
    ("ENDTIME", "timestamp"),
    ("CUSTOMERNUMBER", "string"),
    ("ATTEMPTS", "int"),
    ("DN", "string"),
    ("LOCATION", "string"),
    ("CALLBACKSERVERID", "string"),
    ("CALLRESULT", "int"),
    ("THETYPE", "int"),
    ("MIMETYPE", "string"),
    ("THESIZE", "int"),
    ("CONTENT", "string"),
    ("SUBSCRIBERID", "string"),
)

DOCUMENT_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("ID", "string"),
    ("MIMETYPE", "string"),
    ("THENAME", "string"),
    ("DESCRIPTION", "string"),
    ("THESIZE", "int"),
    ("CONTENT", "string"),
    ("DOCUMENTID", "string"),
    ("ENTITYID", "string"),
    ("ENTITYTYPEID", "int"),
)

CONTACT_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("CONTACTID", "string"),
    ("TENANTID", "int"),
    ("SUBTENANTID", "int"),
    ("ISEXTERNALRESOURCE", "int"),
    *((f"STRATTRIBUTE{i}", "string") for i in range(1, 11)),
    *((f"DATEATTRIBUTE{i}", "int") for i in range(1, 4)),
    ("CREATEDDATE", "timestamp"),
    ("MODIFIEDDATE", "timestamp"),
    ("MERGEID", "string"),
    ("SUBSCRIBERID", "string"),
)

CONTACT_ATTRIBUTE_FIELDS: tuple[tuple[str, Kind], ...] = (
    ("ID", "string"),
    ("CONTACTID", "string"),
    ("ATTRIBUTEID", "string"),
    ("ATTRIBUTENAME", "string"),
    ("MIMETYPE", "string"),
    ("STRVALUE", "string"),
    ("STRVALUELOWERCASE", "string"),
    ("BINVALUE", "string"),
    ("DATEVALUE", "timestamp"),
    ("DESCRIPTION", "string"),
    ("ISPRIMARY", "int"),
    ("TENANTID", "int"),
    ("SUBTENANTID", "int"),
)

_ARROW: dict[Kind, pa.DataType] = {"string": STR, "int": INT, "timestamp": TS}


def _schema(fields: tuple[tuple[str, Kind], ...], required: str | None) -> pa.Schema:
    columns = []
    for name, kind in fields:
        if kind == "attributes":
            columns.append(pa.field("allattributes", STR))
            columns.append(pa.field("allattributes_map", ATTRIBUTES_MAP))
        else:
            columns.append(pa.field(name.lower(), _ARROW[kind], nullable=name != required))
    return pa.schema(columns)


INTERACTIONS = _schema(INTERACTION_FIELDS, "IXNID")
DOCUMENTS = _schema(DOCUMENT_FIELDS, None)
CONTACTS = _schema(CONTACT_FIELDS, "CONTACTID")
CONTACT_ATTRIBUTES = _schema(CONTACT_ATTRIBUTE_FIELDS, None)

ENUM_LABELS_SCHEMA = pa.schema(
    [
        pa.field("column_name", STR, nullable=False),
        pa.field("code", INT, nullable=False),
        pa.field("label", STR, nullable=False),
    ]
)

#: The documented enum values: column -> {code: label} (interaction and document ``ENTITYTYPEID`` agree).
ENUM_LABELS: dict[str, dict[int, str]] = {
    "status": {0: "New", 1: "Pending", 2: "InProcess", 3: "Stopped"},
    "entitytypeid": {
        0: "EmailIn",
        1: "EmailOut",
        2: "Chat",
        3: "PhoneCall",
        5: "Callback",
        6: "CoBrowse",
        7: "Interaction",
    },
}

TableName = Literal["interactions", "documents", "contacts", "contact_attributes"]

#: Each table: its schema, its documented fields, and the field identifying a record in errors.
TABLES: dict[TableName, tuple[pa.Schema, tuple[tuple[str, Kind], ...], str]] = {
    "interactions": (INTERACTIONS, INTERACTION_FIELDS, "IXNID"),
    "documents": (DOCUMENTS, DOCUMENT_FIELDS, "ID"),
    "contacts": (CONTACTS, CONTACT_FIELDS, "CONTACTID"),
    "contact_attributes": (CONTACT_ATTRIBUTES, CONTACT_ATTRIBUTE_FIELDS, "ID"),
}


def enum_labels_table() -> pa.Table:
    """The ``enum_labels`` lookup table: one row per documented (column, code, label)."""
    import io
    import json

    import pyarrow.json as pj

    rows = [
        json.dumps({"column_name": column, "code": code, "label": label})
        for column, labels in ENUM_LABELS.items()
        for code, label in labels.items()
    ]
    # Through Arrow's JSON reader: pa.array on Python lists would import pandas.
    table = pj.read_json(
        io.BytesIO("\n".join(rows).encode()),
        parse_options=pj.ParseOptions(explicit_schema=ENUM_LABELS_SCHEMA),
    )
    return table.cast(ENUM_LABELS_SCHEMA)
