"""Settings of the Genesys CDDS sandbox (``PATCH /_sandbox/vendors/genesys_cdds/settings``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Cipher = Literal["aes256", "aes128", "des3"]
Fault = Literal["none", "traversal", "bomb", "corrupt_part", "withhold_last_part", "other_certificate"]


@dataclass(frozen=True)
class CddsSettings:
    """Knobs of the CDDS emulation. Credentials default to what ``VENDOR.airflow_connection`` sends.

    :param api_key: the ``x-api-key`` every request must carry (403 otherwise).
    :param client_id: OAuth client (HTTP Basic on the token request).
    :param client_secret: its secret.
    :param username: ``TENANT\\user`` accepted by the password grant (the bare user too).
    :param password: the user's password.
    :param token_ttl_seconds: ``expires_in`` of issued tokens.
    :param expire_tokens_now: patching this to true expires every token issued so far.
    :param interaction_job_title: title of the scheduled Interaction export job.
    :param contact_job_title: title of the scheduled Contact export job.
    :param run_every_hours: both jobs run every N hours counted from 00:00 UTC (CDDS's "Hourly"
        rule; 24 = daily at 00:00 UTC). A run at T exports the data of ``[T - N h, T)``.
    :param first_run: the first scheduled run (ISO-8601 UTC); no history before it.
    :param retention_days: files older than this disappear from history and downloads (CDDS keeps
        30 days). ``None`` keeps everything, so fixed-date demos keep working.
    :param interactions_per_run: interactions exported by each run.
    :param contacts_per_run: contacts exported by each run.
    :param interaction_split_size_bytes: "File Split Size" of the Interaction job (``None``: one file).
    :param contact_split_size_bytes: the same for the Contact job.
    :param cipher: S/MIME content cipher (``des3`` is OpenSSL's ``smime -encrypt`` default).
    :param polls_until_complete: a run shows ``IN_PROGRESS`` without file names in this many
        history listings before its files appear.
    :param fault: make every export bad on purpose: ``traversal`` (a ``../`` member), ``bomb``
        (a 4 MiB member expanding ~1000x), ``corrupt_part`` (damaged bytes in the first part),
        ``withhold_last_part`` (the last ``.zNN`` is never listed nor served),
        ``other_certificate`` (encrypted to a certificate the connection has no key for).
    :param extra_field: add this undocumented property to every interaction and contact.
    """

    api_key: str = "sandbox-api-key"
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    username: str = "SANDBOX\\cdds-user"
    password: str = "sandbox-password"
    token_ttl_seconds: int = 3600
    expire_tokens_now: bool = False
    interaction_job_title: str = "Contact History - Interactions"
    contact_job_title: str = "Contact History - Contacts"
    run_every_hours: int = 24
    first_run: str = "2026-09-01T00:00:00Z"
    retention_days: int | None = None
    interactions_per_run: int = 30
    contacts_per_run: int = 15
    interaction_split_size_bytes: int | None = 4096
    contact_split_size_bytes: int | None = None
    cipher: Cipher = "aes256"
    polls_until_complete: int = 0
    fault: Fault = "none"
    extra_field: str | None = None

    def __post_init__(self) -> None:
        for name in ("token_ttl_seconds", "run_every_hours"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("interactions_per_run", "contacts_per_run", "polls_until_complete"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("interaction_split_size_bytes", "contact_split_size_bytes"):
            value = getattr(self, name)
            if value is not None and value < 1024:
                raise ValueError(f"{name} must be >= 1024 or null")
        if self.retention_days is not None and self.retention_days < 1:
            raise ValueError("retention_days must be >= 1 or null")
        if 24 % self.run_every_hours and self.run_every_hours % 24:
            raise ValueError(
                "run_every_hours must divide 24 or be a multiple of it (runs align to 00:00 UTC)"
            )
        first = datetime.fromisoformat(self.first_run.replace("Z", "+00:00"))
        if first.tzinfo is None or first.utcoffset():
            raise ValueError("first_run must be UTC (end it with Z)")
        step = self.run_every_hours if self.run_every_hours < 24 else 24
        if first.minute or first.second or first.microsecond or first.hour % step:
            raise ValueError("first_run must fall on the run schedule (every run_every_hours from 00:00 UTC)")
