"""The secrets audit: search everything a deployment kept for any known secret value.

Secrets come from two places: the connections the DAGs ran with (passwords, client secrets,
access-key secrets, API keys, private keys) and what the sandbox recorded crossing the wire at
run time (tokens it issued, bearer and Basic credentials it received, pre-signed URLs it
handed out and their signatures). Each is searched in the forms a leak would take: as is,
URL-encoded, JSON-escaped, base64-encoded, and - for multi-line values such as PEM keys -
line by line.

A :class:`Hit` names the secret and where it was found, never the value, so an audit failure
does not itself leak. :func:`audit` returns the hits in a stable order (sources sorted), and
the test fails on the first.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: Variants shorter than this are not searched: they would match by chance.
MIN_NEEDLE = 8
#: Connection fields and extras that hold secrets (``certificate`` is public, ``*_id`` names).
SECRET_FIELD = re.compile(r"secret|password|passwd|private|token|api_?key|access_?key(?!_?id)", re.IGNORECASE)


@dataclass(frozen=True)
class Secret:
    """A secret value and a name for it that may be printed."""

    name: str
    value: str


@dataclass(frozen=True)
class Hit:
    """Where a secret was found; printing it never prints the secret."""

    secret: str
    source: str
    location: str

    def __str__(self) -> str:
        return f"secret {self.secret!r} found in {self.source}: {self.location}"


def connection_secrets(connections: Mapping[str, str]) -> list[Secret]:
    """The secret fields of ``AIRFLOW_CONN_*`` JSON connections."""
    found = []
    for env_name, raw in sorted(connections.items()):
        conn = json.loads(raw)
        conn_id = env_name.removeprefix("AIRFLOW_CONN_").lower()
        if conn.get("password"):
            found.append(Secret(f"{conn_id}.password", str(conn["password"])))
        for key, value in sorted((conn.get("extra") or {}).items()):
            if isinstance(value, str) and value and SECRET_FIELD.search(key):
                found.append(Secret(f"{conn_id}.extra.{key}", value))
    return found


def recorded_secrets(record: Path) -> list[Secret]:
    """What ``recording_sandbox.py`` recorded: issued tokens, received credentials, signed URLs."""
    if not record.exists():
        return []
    found = []
    for number, line in enumerate(record.read_text().splitlines(), start=1):
        entry = json.loads(line)
        found.append(Secret(f"sandbox {entry['kind']} #{number} ({entry['path']})", entry["value"]))
    return found


def needles(secret: Secret) -> list[bytes]:
    """The byte strings a leak of ``secret`` would contain."""
    value = secret.value
    forms = {
        value,
        quote(value, safe=""),
        json.dumps(value)[1:-1],
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
    }
    if "\n" in value:
        # A PEM key re-wrapped or printed with escaped newlines still carries its lines.
        forms.update(line.strip() for line in value.splitlines() if not line.startswith("-----"))
    return sorted({form.encode() for form in forms if len(form) >= MIN_NEEDLE})


def search(secrets: Iterable[Secret], blobs: Iterable[tuple[str, str, bytes]]) -> list[Hit]:
    """Every ``(secret, source, location)`` where a needle of a secret occurs in a blob."""
    compiled = [(secret, needles(secret)) for secret in secrets]
    hits = []
    for source, location, blob in blobs:
        for secret, forms in compiled:
            if any(form in blob for form in forms):
                hits.append(Hit(secret.name, source, location))
    return hits


# --------------------------------------------------------------------------- what is searched


def file_blobs(source: str, root: Path, exclude: Iterable[Path] = ()) -> Iterator[tuple[str, str, bytes]]:
    """Every file under ``root``, as stored (logs, dumps)."""
    skipped = {p.resolve() for p in exclude}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.resolve() not in skipped:
            yield source, str(path.relative_to(root)), path.read_bytes()


def output_blobs(root: Path) -> Iterator[tuple[str, str, bytes]]:
    """Every output object as a reader sees it: Parquet as its rows, gzip decompressed."""
    import pyarrow.parquet as pq

    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        location = str(path.relative_to(root))
        if path.suffix == ".parquet":
            rows = pq.read_table(path).to_pylist()
            data = json.dumps(rows, default=str).encode()
            # JSON escapes non-ASCII; keep the raw bytes too for secrets written verbatim.
            yield "outputs", location, data + b"\n" + path.read_bytes()
        elif path.suffix == ".gz":
            yield "outputs", location, gzip.decompress(path.read_bytes())
        else:
            yield "outputs", location, path.read_bytes()


def audit(secrets: Iterable[Secret], blobs: Iterable[tuple[str, str, bytes]]) -> list[Hit]:
    """All hits, in the order the blobs were given (give them sorted for a stable first hit)."""
    return search(list(secrets), blobs)


class TriggerRowRecorder:
    """Copies every trigger row, decrypted, while it exists (rows are deleted once they fire).

    Airflow keeps trigger kwargs Fernet-encrypted, so a database dump would hide a secret in
    them; this reads them as the triggerer does and writes them to ``target`` (JSON lines).

    :param connect: opens a DB-API connection to the metadata database.
    :param fernet_key: the deployment's ``[core] fernet_key``.
    """

    def __init__(self, connect: Any, fernet_key: str, target: Path, interval: float = 0.5) -> None:
        self._connect = connect
        self._fernet_key = fernet_key
        self.target = target
        self._interval = interval
        self._stop = threading.Event()
        self._seen: set[int] = set()
        self._thread = threading.Thread(target=self._run, name="trigger-row-recorder", daemon=True)
        self.rows = 0

    def start(self) -> TriggerRowRecorder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _decrypt(self, stored: str) -> str:
        from cryptography.fernet import Fernet

        if stored.startswith("{"):
            return stored
        return Fernet(self._fernet_key.encode()).decrypt(stored.encode()).decode()

    def _run(self) -> None:
        conn = self._connect()
        conn.autocommit = True
        try:
            while not self._stop.is_set():
                with conn.cursor() as cur:
                    cur.execute("SELECT id, classpath, kwargs FROM trigger")
                    fresh = [row for row in cur.fetchall() if row[0] not in self._seen]
                with self.target.open("a") as out:
                    for trigger_id, classpath, kwargs in fresh:
                        self._seen.add(trigger_id)
                        out.write(
                            json.dumps(
                                {"id": trigger_id, "classpath": classpath, "kwargs": self._decrypt(kwargs)}
                            )
                            + "\n"
                        )
                        self.rows += 1
                self._stop.wait(self._interval)
        finally:
            conn.close()
