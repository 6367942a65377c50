"""Deterministic contact-history records, shaped like the CDDS Contact History Export Reference.

Everything depends only on the seed, the job and the run time, so the same sandbox seed
exports the same records for the same interval on every machine. Records use the
reference's upper-case property names and ISO-8601 UTC dates with milliseconds.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_FIRST = ("Ada", "Bram", "Chloe", "Dmitri", "Esme", "Farid", "Greta", "Hiro", "Ines", "Jonas")
_LAST = ("Walsh", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Ferreira", "Novak", "Byrne")
_QUEUES = ("Billing", "Support", "Sales", "Retention")
_SUBJECTS = ("Invoice question", "Cannot log in", "Upgrade my plan", "Delivery delayed", "Cancel order")
TENANT_ID = 101

#: (ENTITYTYPEID, MEDIATYPEID, TYPEID, SUBTYPEID) of each kind of interaction the sandbox exports.
_KINDS = (
    (0, "email", "Inbound", "InboundNew"),
    (1, "email", "Outbound", "OutboundReply"),
    (2, "chat", "Inbound", "InboundNew"),
    (3, "voice", "Inbound", "InboundNew"),
    (5, "callback", "Outbound", "OutboundNew"),
)


def ucs_id(rng: random.Random) -> str:
    """A 16-character UCS id like ``0002Ha7QB2MX000R``."""
    return "000" + "".join(rng.choices(_ID_ALPHABET, k=13))


def export_uuid(seed: int, job_title: str, run_at: datetime) -> str:
    """The export id of a run (the ``<id>`` of ``export-<id>.zip.smime``)."""
    return str(
        uuid.UUID(
            int=random.Random(f"{seed}:{job_title}:{run_at.isoformat()}:export").getrandbits(128), version=4
        )
    )


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _rng(seed: int, job_title: str, run_at: datetime) -> random.Random:
    return random.Random(f"{seed}:{job_title}:{run_at.isoformat()}:records")


def _attributes(rng: random.Random, first: str, contact_id: str, queue: str) -> dict[str, Any]:
    return {
        "FirstName": first,
        "ContactId": contact_id,
        "RStrategyName": f"{queue.lower()}-routing",
        "RStrategyDBID": str(rng.randint(100, 400)),
        "ServiceObjective": rng.choice((0, 20, 60)),
        "_ContainsAttachment": rng.choice(("true", "false")),
        "CustomerSegment": rng.choice(("default", "gold", "silver")),
        "RTargetAgentGroup": f"Agent Group {queue}",
        "IWAttachedDataInformation": {
            "DispositionCode.Key": "DispositionCode",
            "DispositionCodeValues.DC_Accepted": "Accepted",
            "CaseData.Priority": rng.choice(("Low", "Normal", "High")),
        },
        "RRequestedSkills": {},
    }


def interactions(
    seed: int, job_title: str, start: datetime, end: datetime, count: int, extra_field: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` interactions starting in ``[start, end)`` and the documents attached to the emails."""
    rng = _rng(seed, job_title, end)
    span = max(1, int((end - start).total_seconds()))
    records: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for _ in range(count):
        entity, media, direction, subtype = rng.choice(_KINDS)
        began = start + timedelta(seconds=rng.randrange(span), milliseconds=rng.randrange(1000))
        ended = began + timedelta(seconds=rng.randint(30, 1800))
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        queue = rng.choice(_QUEUES)
        contact_id = ucs_id(rng)
        ixn_id = ucs_id(rng)
        record: dict[str, Any] = {
            "IXNID": ixn_id,
            "STATUS": 3 if rng.random() < 0.9 else 2,
            "ENTITYTYPEID": entity,
            "MEDIATYPEID": media,
            "TYPEID": direction,
            "SUBTYPEID": subtype,
            "EXTERNALID": "",
            "OWNERID": rng.randint(100, 200),
            "CONTACTID": contact_id,
            "STARTDATE": iso(began),
            "MODIFIEDDATE": iso(ended),
            "ENDDATE": iso(ended),
            "THREADID": ucs_id(rng),
            "TIMESHIFT": rng.choice((0, 60, 120)),
            "SUBJECT": rng.choice(_SUBJECTS),
            "TEXT": f"Hello, this is {first} {last}.",
            "TENANTID": TENANT_ID,
            "SUBTENANTID": 1,
            "THREADHASH": rng.randint(1, 2**31 - 1),
            "CANBEPARENT": 1,
            "CREATORAPPID": 171,
            "QUEUENAME": queue,
            "ALLATTRIBUTES": _attributes(rng, first, contact_id, queue),
            "STRATTRIBUTE1": first,
            "INTATTRIBUTE1": rng.randint(0, 9),
        }
        if media == "email":
            address = f"{first}.{last}@example.test".lower()
            content = base64.b64encode(f"Subject: {record['SUBJECT']}\r\n\r\nHi".encode()).decode()
            record.update(
                FROMADDRESS=address if direction == "Inbound" else "support@example.test",
                TOADDRESSES="support@example.test" if direction == "Inbound" else address,
                SENTDATE=iso(began),
                MAILBOX='"Contact Center"',
                MIMETYPE="message/rfc822",
                THESIZE=len(content),
                CONTENT=content,
            )
            if direction == "Inbound" and rng.random() < 0.5:
                body = base64.b64encode(rng.randbytes(rng.randint(40, 200))).decode()
                document_id = ucs_id(rng)
                documents.append(
                    {
                        "ID": document_id,
                        "MIMETYPE": "message/rfc822",
                        "THENAME": "OriginalMsg.eml",
                        "DESCRIPTION": "",
                        "THESIZE": len(body),
                        "CONTENT": body,
                        "DOCUMENTID": document_id,
                        "ENTITYID": ixn_id,
                        "ENTITYTYPEID": entity,
                    }
                )
        elif media == "voice":
            record.update(
                ESTABLISHEDDATE=iso(began + timedelta(seconds=5)),
                RELEASEDDATE=iso(ended),
                DURATION=int((ended - began).total_seconds()),
                PHONENUMBER=f"+3531{rng.randint(1000000, 9999999)}",
                TCONNECTIONID=f"{rng.getrandbits(64):016x}",
            )
        elif media == "callback":
            record.update(
                CALLBACKSTATUS=rng.randint(0, 3),
                DESIREDRESPONSETYPE=1,
                STARTTIME=iso(began),
                ENDTIME=iso(ended),
                CUSTOMERNUMBER=f"+3531{rng.randint(1000000, 9999999)}",
                ATTEMPTS=rng.randint(1, 3),
                CALLRESULT=rng.choice((0, 9, 33)),
            )
        if extra_field:
            record[extra_field] = "sandbox"
        records.append(record)
    return records, documents


def contacts(
    seed: int, job_title: str, start: datetime, end: datetime, count: int, extra_field: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``count`` contacts created or modified in ``[start, end)`` and their attributes."""
    rng = _rng(seed, job_title, end)
    span = max(1, int((end - start).total_seconds()))
    records: list[dict[str, Any]] = []
    attributes: list[dict[str, Any]] = []
    for _ in range(count):
        contact_id = ucs_id(rng)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        modified = start + timedelta(seconds=rng.randrange(span), milliseconds=rng.randrange(1000))
        created = modified - timedelta(days=rng.randint(0, 400))
        email = f"{first}.{last}@example.test".lower()
        record: dict[str, Any] = {
            "CONTACTID": contact_id,
            "TENANTID": TENANT_ID,
            "SUBTENANTID": 1,
            "ISEXTERNALRESOURCE": 0,
            "STRATTRIBUTE2": email,
            "STRATTRIBUTE4": first,
            "STRATTRIBUTE5": last,
            "DATEATTRIBUTE1": str(int(created.timestamp() * 1000)),
            "CREATEDDATE": iso(created),
            "MODIFIEDDATE": iso(modified),
        }
        if extra_field:
            record[extra_field] = "sandbox"
        records.append(record)
        for name, value, primary in (
            ("FirstName", first, 1),
            ("LastName", last, 1),
            ("EmailAddress", email, 1),
        ):
            attributes.append(
                {
                    "ID": ucs_id(rng),
                    "CONTACTID": contact_id,
                    "ATTRIBUTEID": ucs_id(rng),
                    "ATTRIBUTENAME": name,
                    "STRVALUE": value,
                    "STRVALUELOWERCASE": value.lower(),
                    "ISPRIMARY": primary,
                    "TENANTID": TENANT_ID,
                }
            )
    return records, attributes


def json_lines(records: list[dict[str, Any]]) -> bytes:
    """JSON Lines as CDDS writes them: one compact object per line."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def iter_run_times(first: datetime, every: timedelta, until: datetime) -> Iterator[datetime]:
    """Scheduled run times from ``first`` (aligned to 00:00 UTC) up to and including ``until``."""
    moment = first
    while moment <= until:
        yield moment
        moment += every
