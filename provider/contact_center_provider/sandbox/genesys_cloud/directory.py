"""The synthetic organization: users (agents), queues, wrap-up codes, presence definitions.

Everything is a pure function of the seed, built once per seed and cached.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

ORG_NAME = "Genesys Sandbox Org"
CREATED = "2023-01-02T09:00:00.000Z"

QUEUE_NAMES = (
    "Product Sales",
    "Help Desk",
    "Billing",
    "Personal Advocates",
    "Technical Support",
    "Retention",
)

WRAPUP_NAMES = (
    "Sale Completed",
    "Issue Resolved",
    "Follow-up Required",
    "Billing Question",
    "Escalated",
    "Wrong Number",
    "Information Provided",
    "Cancelled Service",
)

#: (analytics upper-snake, presence-definition CamelCase, English label)
PRESENCES = (
    ("AVAILABLE", "Available", "Available"),
    ("AWAY", "Away", "Away"),
    ("BUSY", "Busy", "Busy"),
    ("OFFLINE", "Offline", "Offline"),
    ("IDLE", "Idle", "Idle"),
    ("ON_QUEUE", "OnQueue", "On Queue"),
    ("MEAL", "Meal", "Meal"),
    ("TRAINING", "Training", "Training"),
    ("MEETING", "Meeting", "Meeting"),
    ("BREAK", "Break", "Break"),
)

_FIRST = (
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mateo",
    "Sofia",
    "Lucas",
    "Mia",
    "Ethan",
    "Amara",
    "Kenji",
    "Priya",
    "Diego",
    "Fatima",
    "Jonas",
    "Chloe",
    "Ravi",
    "Hana",
    "Omar",
    "Grace",
    "Pablo",
    "Ingrid",
    "Tariq",
    "Lena",
    "Marcus",
    "Yuki",
    "Nadia",
    "Samuel",
    "Zoe",
    "Aisha",
    "Felix",
)
_LAST = (
    "Johnson",
    "Garcia",
    "Nguyen",
    "Okafor",
    "Müller",
    "Rossi",
    "Kowalski",
    "Tanaka",
    "Silva",
    "Brown",
    "Haddad",
    "Larsen",
    "Patel",
    "Dubois",
    "Kim",
    "Novak",
    "Andersson",
    "Costa",
    "Ibrahim",
    "Walsh",
    "Schmidt",
    "Reyes",
    "Moreau",
    "Fischer",
    "Lopez",
    "Sato",
    "Khan",
    "Evans",
    "Martin",
    "Ng",
    "Cohen",
    "Ali",
)
USER_COUNT = 32


def stable_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (deterministic; same bits as ``uuid.UUID(int=..., version=4)``)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    bits = (bits & ~(0xF000 << 64)) | (4 << 76)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Directory:
    """The organization's fixed entities for one seed."""

    org_id: str
    division: dict[str, str]
    users: tuple[dict[str, Any], ...]
    queues: tuple[dict[str, Any], ...]
    wrapup_codes: tuple[dict[str, Any], ...]
    presence_definitions: tuple[dict[str, Any], ...]

    @property
    def agent_ids(self) -> tuple[str, ...]:
        return tuple(user["id"] for user in self.users)

    def user(self, user_id: str) -> dict[str, Any] | None:
        return next((u for u in self.users if u["id"] == user_id), None)

    def presence_id(self, system_presence: str) -> str:
        """Organization presence id for an upper-snake system presence."""
        for definition in self.presence_definitions:
            if definition["_analytics"] == system_presence:
                return str(definition["id"])
        raise KeyError(system_presence)


@lru_cache(maxsize=16)
def directory(seed: int) -> Directory:
    """Build (once per seed) the organization's users, queues, wrap-up codes and presences."""
    rng = random.Random(f"{seed}:directory")
    org_id = stable_uuid(rng)
    division = {"id": stable_uuid(rng), "name": "Home", "selfUri": ""}
    division["selfUri"] = f"/api/v2/authorization/divisions/{division['id']}"

    users = []
    names = set()
    for i in range(USER_COUNT):
        first, last = _FIRST[i], rng.choice(_LAST)
        if i == 7:
            first, last = "Renée", "O'Connor-Ståhl"  # non-ASCII and quotes in a real-looking name
        name = f"{first} {last}"
        while name in names:
            last = rng.choice(_LAST)
            name = f"{first} {last}"
        names.add(name)
        user_id = stable_uuid(rng)
        email = (
            f"{first.lower()}.{last.lower()}@sandbox.example.com".replace("'", "")
            .replace("é", "e")
            .replace("å", "a")
        )
        users.append(
            {
                "id": user_id,
                "name": name,
                "division": division,
                "chat": {"jabberId": f"{user_id[:12]}@sandbox.orgspan.com"},
                "department": rng.choice(("Sales", "Support", "Customer Care")),
                "email": email,
                "primaryContactInfo": [{"address": email, "mediaType": "EMAIL", "type": "PRIMARY"}],
                "addresses": [],
                "state": "active",
                "title": rng.choice(("Agent", "Senior Agent", "Team Lead")),
                "username": email,
                "images": [],
                "version": 1 + rng.randrange(5),
                "acdAutoAnswer": False,
                "selfUri": f"/api/v2/users/{user_id}",
            }
        )

    queues = []
    for name in QUEUE_NAMES:
        queue_id = stable_uuid(rng)
        members = rng.randint(8, 20)
        queues.append(
            {
                "id": queue_id,
                "name": name,
                "division": division,
                "description": f"{name} queue",
                "dateCreated": CREATED,
                "dateModified": CREATED,
                "memberCount": members,
                "userMemberCount": members,
                "joinedMemberCount": members - rng.randint(0, 4),
                "acwSettings": {"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 60000},
                "skillEvaluationMethod": "BEST",
                "autoAnswerOnly": False,
                "enableTranscription": False,
                "enableManualAssignment": False,
                "selfUri": f"/api/v2/routing/queues/{queue_id}",
            }
        )

    wrapups = []
    for name in WRAPUP_NAMES:
        code_id = stable_uuid(rng)
        wrapups.append(
            {
                "id": code_id,
                "name": name,
                "division": division,
                "dateCreated": CREATED,
                "createdBy": "sandbox",
                "selfUri": f"/api/v2/routing/wrapupcodes/{code_id}",
            }
        )

    presences = []
    for analytics, camel, label in PRESENCES:
        presence_id = stable_uuid(rng)
        presences.append(
            {
                "id": presence_id,
                "_analytics": analytics,
                "name": label,
                "type": "System",
                "languageLabels": {"en_US": label},
                "systemPresence": camel,
                "divisionId": "*",
                "deactivated": False,
                "primary": True,
                "createdDate": CREATED,
                "modifiedDate": CREATED,
                "selfUri": f"/api/v2/presence/definitions/{presence_id}",
            }
        )
    return Directory(org_id, division, tuple(users), tuple(queues), tuple(wrapups), tuple(presences))


def public(entity: dict[str, Any]) -> dict[str, Any]:
    """Drop the generator's private ``_`` keys before an entity goes on the wire."""
    return {k: v for k, v in entity.items() if not k.startswith("_")}


def organization(seed: int) -> dict[str, Any]:
    """``GET /api/v2/organizations/me``."""
    org_id = directory(seed).org_id
    return {
        "id": org_id,
        "name": ORG_NAME,
        "defaultLanguage": "en-us",
        "defaultCountryCode": "US",
        "thirdPartyOrgName": "genesys-sandbox-org",
        "domain": "genesys-sandbox-org",
        "version": 3,
        "state": "active",
        "voicemailEnabled": True,
        "productPlatform": "GenesysCloud",
        "features": {"purecloud": True},
        "selfUri": f"/api/v2/organizations/{org_id}",
    }
