"""Encrypt artifacts the way CDDS does: S/MIME enveloped-data to the tenant's certificate.

AES variants come from ``cryptography``'s ``PKCS7EnvelopeBuilder``. ``cryptography`` cannot
*produce* 3DES (it only has it for decryption of legacy data, and its PKCS#7 builder offers
AES alone), yet 3DES is what ``openssl smime -encrypt`` uses by default and what the
provider must fall back to the ``openssl`` command for. So the 3DES envelope is assembled
here from its ASN.1 definition (RFC 5652 EnvelopedData, KeyTransRecipientInfo with
RSA PKCS#1 v1.5, ``des-ede3-cbc``); the tests check that ``openssl smime -decrypt``
reads it.
"""

from __future__ import annotations

import base64
import random
from typing import Literal

from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import pkcs7

Cipher_ = Literal["aes256", "aes128", "des3"]
CIPHERS: tuple[Cipher_, ...] = ("aes256", "aes128", "des3")

_OID_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
_OID_DATA = "1.2.840.113549.1.7.1"
_OID_RSA = "1.2.840.113549.1.1.1"
_OID_DES_EDE3_CBC = "1.2.840.113549.3.7"

MIME_HEADERS = (
    b"MIME-Version: 1.0\n"
    b'Content-Disposition: attachment; filename="smime.p7m"\n'
    b'Content-Type: application/x-pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
    b"Content-Transfer-Encoding: base64\n\n"
)


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _length(len(content)) + content


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _integer(value: int) -> bytes:
    raw = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return _tlv(0x02, raw)


def _oid(dotted: str) -> bytes:
    numbers = [int(n) for n in dotted.split(".")]
    body = bytearray([40 * numbers[0] + numbers[1]])
    for number in numbers[2:]:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append(0x80 | (number & 0x7F))
            number >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _des_parity(key: bytes) -> bytes:
    # DES keys carry odd parity in each byte's low bit; OpenSSL accepts either, but be proper.
    return bytes((b & 0xFE) | (bin(b & 0xFE).count("1") % 2 == 0) for b in key)


def enveloped_des3_der(data: bytes, certificate: x509.Certificate, rng: random.Random) -> bytes:
    """A DER ContentInfo(EnvelopedData) of ``data``, 3DES-CBC content, RSA PKCS#1 v1.5 key transport."""
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("CDDS certificates are RSA")
    content_key = _des_parity(rng.randbytes(24))
    iv = rng.randbytes(8)
    padder = padding.PKCS7(64).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(TripleDES(content_key), modes.CBC(iv)).encryptor()
    encrypted_content = encryptor.update(padded) + encryptor.finalize()
    encrypted_key = public_key.encrypt(content_key, asym_padding.PKCS1v15())
    issuer = certificate.issuer.public_bytes()
    recipient = _sequence(
        _integer(0),
        _sequence(issuer, _integer(certificate.serial_number)),
        _sequence(_oid(_OID_RSA), b"\x05\x00"),
        _tlv(0x04, encrypted_key),
    )
    encrypted_content_info = _sequence(
        _oid(_OID_DATA),
        _sequence(_oid(_OID_DES_EDE3_CBC), _tlv(0x04, iv)),
        _tlv(0x80, encrypted_content),  # [0] IMPLICIT OCTET STRING
    )
    enveloped = _sequence(_integer(0), _tlv(0x31, recipient), encrypted_content_info)
    return _sequence(_oid(_OID_ENVELOPED_DATA), _tlv(0xA0, enveloped))


def smime_message(der: bytes) -> bytes:
    """Wrap DER in the MIME message ``openssl smime -encrypt`` writes (base64, 64-column lines)."""
    encoded = base64.b64encode(der)
    lines = [encoded[i : i + 64] for i in range(0, len(encoded), 64)]
    return MIME_HEADERS + b"\n".join(lines) + b"\n\n"


def encrypt_smime(
    data: bytes, certificate: x509.Certificate, cipher: Cipher_ = "aes256", rng: random.Random | None = None
) -> bytes:
    """Encrypt ``data`` to ``certificate`` as an S/MIME message with the chosen content cipher.

    :param rng: randomness for the 3DES content key and IV (AES uses the OS's).
    """
    if cipher == "des3":
        return smime_message(enveloped_des3_der(data, certificate, rng or random.Random()))
    algorithm = algorithms.AES256 if cipher == "aes256" else algorithms.AES128
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(data)
        .add_recipient(certificate)
        .set_content_encryption_algorithm(algorithm)
        .encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary])
    )
