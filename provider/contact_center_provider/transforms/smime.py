"""Decrypt S/MIME (PKCS#7 enveloped-data) artifacts with a key that never touches the disk.

Two decryptors, chosen per part:

* ``cryptography``'s ``pkcs7_decrypt_smime`` / ``_pem`` / ``_der`` (>= 50: earlier
  versions carry a Bleichenbacher oracle in exactly these functions). It holds the whole
  part in memory and only knows AES-128/256-CBC content encryption.
* the ``openssl smime -decrypt -binary`` command (what the CDDS guide tells users to run)
  for everything else: 3DES (OpenSSL's own default ``smime -encrypt`` cipher) and parts
  larger than ``max_in_memory`` bytes, whose plaintext is streamed from its stdout.

The private key and the certificate reach ``openssl`` through anonymous pipes
(``-inkey /dev/fd/N -recip /dev/fd/M`` with ``pass_fds``): no temporary file ever holds
them, and they are not on the command line. The key is handed over as unencrypted
PKCS#8 PEM, so a passphrase never needs passing either.

No Airflow import: usable from operators, tests and scripts alike.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from contact_center_provider.transforms.artifact_errors import (
    ArtifactError,
    CorruptArtifactError,
    DecryptError,
    UnsupportedCipherError,
    WrongKeyError,
)

__all__ = [
    "DEFAULT_MAX_IN_MEMORY",
    "DecryptResult",
    "SmimeFormat",
    "SmimeKey",
    "decrypt_file",
    "detect_format",
    "load_smime_key",
    "openssl_available",
]

#: Parts up to this size are decrypted in memory by ``cryptography``; larger ones stream through openssl.
DEFAULT_MAX_IN_MEMORY = 256 * 1024 * 1024
_CHUNK = 1 << 20

SmimeFormat = Literal["SMIME", "PEM", "DER"]

_KEY_HINT = (
    "Check that the connection's private_key and certificate are the pair whose certificate is "
    "uploaded in CDDS (User preferences > encryption certificate); parts exported before a "
    "certificate change need the previous key"
)


@dataclass(frozen=True, repr=False)
class SmimeKey:
    """A private key and the certificate it belongs to, checked to be a pair.

    :param private_key: the RSA private key (held in memory only).
    :param certificate: the certificate the artifacts are encrypted to.
    """

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    def __repr__(self) -> str:
        return f"SmimeKey(certificate={self.describe()!r}, private_key='***')"

    def describe(self) -> str:
        """Subject and serial of the certificate (safe to log)."""
        return f"{self.certificate.subject.rfc4514_string()} serial {self.certificate.serial_number:x}"

    def key_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM, for the openssl pipe only (kept in memory)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _normalise_pem(value: bytes) -> bytes:
    # Connection forms and secrets backends often turn the PEM's newlines into literal "\n".
    if b"-----BEGIN" in value and b"\n" not in value.strip() and b"\\n" in value:
        value = value.replace(b"\\n", b"\n")
    return value.strip() + b"\n"


def load_smime_key(
    private_key: str | bytes,
    certificate: str | bytes,
    passphrase: str | bytes | None = None,
    *,
    source: str = "connection",
) -> SmimeKey:
    """Load a PEM (or DER) RSA private key and X.509 certificate and check they form a pair.

    :param private_key: the key, PEM or DER; PKCS#1 or PKCS#8, optionally encrypted.
    :param certificate: the certificate uploaded to CDDS, PEM or DER.
    :param passphrase: the key's passphrase, if it is encrypted.
    :param source: names where the values came from in error messages (e.g. the connection id).
    :raises ValueError: naming ``source`` and the field; never quoting the key.
    """
    key_bytes = _normalise_pem(_as_bytes(private_key)) if private_key else b""
    cert_bytes = _normalise_pem(_as_bytes(certificate)) if certificate else b""
    if not key_bytes.strip():
        raise ValueError(f"{source}: private_key is empty; paste the PEM key of the CDDS certificate")
    if not cert_bytes.strip():
        raise ValueError(f"{source}: certificate is empty; paste the PEM certificate uploaded to CDDS")
    password = _as_bytes(passphrase) if passphrase else None
    try:
        if b"-----BEGIN" in key_bytes:
            key = serialization.load_pem_private_key(key_bytes, password)
        else:
            key = serialization.load_der_private_key(key_bytes.strip(), password)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # The library's message never contains key bytes, but keep ours generic anyway.
        reason = "wrong or missing passphrase" if "password" in str(exc).lower() else "not a readable key"
        raise ValueError(f"{source}: private_key could not be loaded ({reason})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(
            f"{source}: private_key is a {type(key).__name__}; CDDS certificates are RSA (X.509 RSA-compliant)"
        )
    try:
        if b"-----BEGIN" in cert_bytes:
            cert = x509.load_pem_x509_certificate(cert_bytes)
        else:
            cert = x509.load_der_x509_certificate(cert_bytes.strip())
    except ValueError:
        raise ValueError(f"{source}: certificate is not a readable X.509 certificate") from None
    cert_key = cert.public_key()
    if (
        not isinstance(cert_key, rsa.RSAPublicKey)
        or cert_key.public_numbers() != key.public_key().public_numbers()
    ):
        raise ValueError(
            f"{source}: private_key does not belong to certificate "
            f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x})"
        )
    return SmimeKey(private_key=key, certificate=cert)


def detect_format(head: bytes) -> SmimeFormat:
    """Tell the S/MIME encoding from a part's first bytes: MIME message, PEM armour or raw DER."""
    text = head.lstrip()
    if text.startswith(b"-----BEGIN"):
        return "PEM"
    if text[:1] == b"\x30":
        return "DER"
    return "SMIME"


def openssl_available(command: str = "openssl") -> bool:
    """Whether the ``openssl`` command can be found."""
    return shutil.which(command) is not None


@dataclass(frozen=True)
class DecryptResult:
    """How a part was decrypted.

    :param method: ``"cryptography"`` or ``"openssl"``.
    :param bytes_out: plaintext bytes written.
    :param reason: why openssl was used (``"cipher"``: a cipher cryptography lacks; ``"size"``).
    """

    method: Literal["cryptography", "openssl"]
    bytes_out: int
    reason: str | None = None


def _decrypt_in_memory(data: bytes, fmt: SmimeFormat, key: SmimeKey) -> bytes:
    # ``options=[]``: Binary is implicit for decryption (passing it raises); Text would strip headers.
    if fmt == "SMIME":
        return pkcs7.pkcs7_decrypt_smime(data, key.certificate, key.private_key, [])
    if fmt == "PEM":
        return pkcs7.pkcs7_decrypt_pem(data, key.certificate, key.private_key, [])
    return pkcs7.pkcs7_decrypt_der(data, key.certificate, key.private_key, [])


def _classify_library_error(name: str, exc: ValueError, key: SmimeKey) -> ArtifactError:
    message = str(exc)
    if "recipient" in message.lower():
        return WrongKeyError(
            name,
            f"it is not encrypted to the configured certificate ({key.describe()})",
            _KEY_HINT,
        )
    if "padding" in message.lower():
        # The pair is checked at load time, so a bad padding means damaged ciphertext.
        return CorruptArtifactError(
            name,
            "the encrypted content is damaged (the decrypted padding is invalid)",
            "Download the part again; if it persists, the file is corrupt at the source",
        )
    return CorruptArtifactError(
        name,
        f"not a readable S/MIME enveloped-data message ({message.split(':')[0]})",
        "Download the part again; if it persists, the file is corrupt at the source",
    )


@contextlib.contextmanager
def _fd_pipe(payload: bytes) -> Iterator[int]:
    """A pipe whose read end (yielded) delivers ``payload``; fed by a thread so size never blocks."""
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        try:
            with contextlib.suppress(BrokenPipeError):
                view = memoryview(payload)
                while view:
                    written = os.write(write_fd, view)
                    view = view[written:]
        finally:
            os.close(write_fd)

    thread = threading.Thread(target=feed, name="smime-key-pipe", daemon=True)
    thread.start()
    try:
        yield read_fd
    finally:
        with contextlib.suppress(OSError):
            os.close(read_fd)
        thread.join(timeout=5)


def _classify_openssl_error(name: str, returncode: int, stderr: bytes, key: SmimeKey) -> ArtifactError:
    text = stderr.decode("utf-8", "replace")
    lowered = text.lower()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = "; ".join(lines[-3:])[:400]
    if "no recipient" in lowered or "no matching recipient" in lowered:
        return WrongKeyError(
            name, f"it is not encrypted to the configured certificate ({key.describe()})", _KEY_HINT
        )
    if "bad decrypt" in lowered or "decrypt error" in lowered:
        return CorruptArtifactError(
            name,
            f"openssl could not decrypt the content ({detail})",
            "Download the part again; if it persists, the file is corrupt at the source",
        )
    if "unsupported" in lowered and "cipher" in lowered:
        return UnsupportedCipherError(name, f"openssl does not support its cipher ({detail})")
    return DecryptError(name, f"openssl smime -decrypt exited {returncode} ({detail})")


def _decrypt_with_openssl(
    src: str, dst: BinaryIO, fmt: SmimeFormat, key: SmimeKey, name: str, openssl: str
) -> int:
    with _fd_pipe(key.key_pem()) as key_fd, _fd_pipe(key.certificate_pem()) as cert_fd:
        command = [
            openssl,
            "smime",
            "-decrypt",
            "-binary",
            "-inform",
            fmt,
            "-inkey",
            f"/dev/fd/{key_fd}",
            "-recip",
            f"/dev/fd/{cert_fd}",
            "-in",
            src,
        ]
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(key_fd, cert_fd),
        )
        errors: list[bytes] = []
        reader = threading.Thread(
            target=lambda: errors.append(process.stderr.read() if process.stderr else b""),
            name="openssl-stderr",
            daemon=True,
        )
        reader.start()
        written = 0
        assert process.stdout is not None
        try:
            while chunk := process.stdout.read(_CHUNK):
                dst.write(chunk)
                written += len(chunk)
        finally:
            process.stdout.close()
            returncode = process.wait()
            reader.join()
    if returncode != 0:
        raise _classify_openssl_error(name, returncode, b"".join(errors), key)
    return written


def decrypt_file(
    src: str,
    dst: BinaryIO,
    key: SmimeKey,
    *,
    name: str | None = None,
    max_in_memory: int = DEFAULT_MAX_IN_MEMORY,
    openssl: str = "openssl",
) -> DecryptResult:
    """Decrypt the S/MIME part at path ``src`` and write its plaintext to ``dst``.

    On error ``dst`` may hold partial plaintext: the caller discards it.

    :param src: local path of the encrypted part (S/MIME message, PEM or DER; detected).
    :param dst: binary stream receiving the plaintext.
    :param key: the decryption key pair (:func:`load_smime_key`).
    :param name: the part's name in error messages (default: the file name of ``src``).
    :param max_in_memory: parts above this size go straight to openssl (streamed).
    :param openssl: the openssl command.
    :raises WrongKeyError: the part is encrypted to another certificate.
    :raises UnsupportedCipherError: a cipher ``cryptography`` lacks and openssl is not installed.
    :raises CorruptArtifactError: the part is not a valid, intact enveloped-data message.
    """
    label = name or os.path.basename(src)
    size = os.path.getsize(src)
    with open(src, "rb") as handle:
        fmt = detect_format(handle.read(64))
    have_openssl = openssl_available(openssl)
    if size > max_in_memory and have_openssl:
        return DecryptResult("openssl", _decrypt_with_openssl(src, dst, fmt, key, label, openssl), "size")
    with open(src, "rb") as handle:
        data = handle.read()
    try:
        plaintext = _decrypt_in_memory(data, fmt, key)
    except UnsupportedAlgorithm as exc:
        if not have_openssl:
            raise UnsupportedCipherError(
                label,
                f"its content cipher is not supported by the cryptography library ({exc})",
                "Install the openssl command (Debian/Ubuntu package 'openssl'), which this provider "
                "uses for such parts",
            ) from None
        del data
        return DecryptResult("openssl", _decrypt_with_openssl(src, dst, fmt, key, label, openssl), "cipher")
    except ValueError as exc:
        raise _classify_library_error(label, exc, key) from None
    dst.write(plaintext)
    return DecryptResult("cryptography", len(plaintext))
