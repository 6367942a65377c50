"""Helpers for the Genesys CDDS tests: key pairs, artifacts made with the real CLI tools, sandbox knobs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from contact_center_provider.sandbox.genesys_cdds import connection

OPENSSL = shutil.which("openssl")
ZIP = shutil.which("zip")
needs_openssl = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl command is not installed (Debian package openssl)"
)
needs_zip = pytest.mark.skipif(ZIP is None, reason="the zip command is not installed (Debian package zip)")


@dataclass(frozen=True)
class Pair:
    """A test key pair: PEM strings plus the certificate written to disk for the CLI (public only)."""

    key_pem: str
    cert_pem: str
    cert_path: Path


def make_pair(directory: Path, name: str = "cdds-test") -> Pair:
    """A fresh RSA-2048 key and self-signed certificate; only the certificate goes to disk."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path = directory / f"{name}.crt"
    cert_path.write_text(cert_pem)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Pair(key_pem, cert_pem, cert_path)


def interaction_records(count: int, *, start: datetime) -> list[dict[str, Any]]:
    """Interactions with incompressible ``CONTENT`` so a split set gets several parts."""
    records = []
    for i in range(count):
        began = start + timedelta(seconds=37 * i, milliseconds=i % 1000)
        records.append(
            {
                "IXNID": f"0002Ha7QB{i:07d}",
                "STATUS": i % 4,
                "ENTITYTYPEID": (0, 2, 3, 5)[i % 4],
                "MEDIATYPEID": ("email", "chat", "voice", "callback")[i % 4],
                "STARTDATE": began.strftime("%Y-%m-%dT%H:%M:%S.") + f"{began.microsecond // 1000:03d}Z",
                "TENANTID": 101,
                "ALLATTRIBUTES": {"Seq": i, "Queue": "Billing", "IWAttachedDataInformation": {"k": "v"}},
                "CONTENT": os.urandom(600).hex(),
            }
        )
    return records


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records))


def zip_split(source: Path, archive: Path, split: str | None, *extra: str) -> list[Path]:
    """``zip -q -r [-s split] archive .`` run inside ``source``; returns the parts in order."""
    assert ZIP is not None
    command = [ZIP, "-q", "-r", *extra]
    if split:
        command += ["-s", split]
    subprocess.run([*command, str(archive), "."], cwd=source, check=True)
    stem = archive.with_suffix("")
    parts = sorted(archive.parent.glob(f"{stem.name}.z[0-9]*"))
    return [*parts, archive]


def smime_encrypt(parts: Sequence[Path], cert: Path, cipher: str = "-aes256") -> list[Path]:
    """``openssl smime -encrypt -binary <cipher> -in part -out part.smime cert`` for every part."""
    assert OPENSSL is not None
    out = []
    for part in parts:
        target = part.with_name(part.name + ".smime")
        subprocess.run(
            [
                OPENSSL,
                "smime",
                "-encrypt",
                "-binary",
                cipher,
                "-in",
                str(part),
                "-out",
                str(target),
                str(cert),
            ],
            check=True,
        )
        out.append(target)
    return out


def patch_cdds(sandbox: Any, **settings: Any) -> dict[str, Any]:
    response = requests.patch(
        f"{sandbox.url}/_sandbox/vendors/genesys_cdds/settings", json=settings, timeout=10
    )
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def cdds_connection_env(sandbox_url: str, **overrides: Any) -> str:
    """``AIRFLOW_CONN_*`` JSON of the sandbox connection, with ``extra`` keys overridden."""
    conn = connection(sandbox_url)
    conn["extra"] = {**conn["extra"], **overrides}
    return json.dumps(conn)
