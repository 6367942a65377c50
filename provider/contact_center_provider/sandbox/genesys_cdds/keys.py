"""The sandbox's encryption certificate and key: the same on every machine, made, not stored.

CDDS encrypts every artifact to the certificate a user uploaded. The sandbox needs one
too, and the Airflow connection that points at the sandbox (built by the demo, the tests
and the compose stack from :data:`~contact_center_provider.sandbox.genesys_cdds.VENDOR`)
must carry the matching private key. Rather than commit a private key to the repository,
the pair is *derived*: RSA primes are drawn from a seeded random generator (Miller-Rabin),
and the self-signed certificate has fixed names, serial and validity (RSA PKCS#1 v1.5
signatures are deterministic). Everything is cached per process.

This key protects nothing: it exists so tests can encrypt and decrypt for real.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]
PUBLIC_EXPONENT = 65537


def _probably_prime(n: int, rng: random.Random, rounds: int = 40) -> bool:
    if any(n % p == 0 for p in _SMALL_PRIMES):
        return n in _SMALL_PRIMES
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 2), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        # Top two bits set so p*q has exactly 2*bits bits; odd.
        candidate = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if (candidate - 1) % PUBLIC_EXPONENT and _probably_prime(candidate, rng):
            return candidate


@functools.cache
def derived_private_key(label: str, bits: int = 2048) -> rsa.RSAPrivateKey:
    """An RSA key that depends only on ``label`` (and ``bits``)."""
    rng = random.Random(f"genesys-cdds-sandbox:{label}:{bits}")
    p = _prime(rng, bits // 2)
    q = _prime(rng, bits // 2)
    while q == p:
        q = _prime(rng, bits // 2)
    p, q = max(p, q), min(p, q)
    d = pow(PUBLIC_EXPONENT, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=public,
    )
    return numbers.private_key()


@dataclass(frozen=True)
class KeyPair:
    """A private key and its self-signed certificate, with their PEM forms."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@functools.cache
def derived_key_pair(label: str = "default", common_name: str = "CDDS sandbox tenant") -> KeyPair:
    """The sandbox's certificate and key for ``label`` (the connection uses ``"default"``)."""
    key = derived_private_key(label)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "airflow-provider-contact-center sandbox"),
        ]
    )
    serial = random.Random(f"serial:{label}").getrandbits(63) | 1
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2099, 12, 31, tzinfo=UTC))
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return KeyPair(key, certificate)
