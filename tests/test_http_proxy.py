"""Both clients take proxy and CA settings from the environment, the same way.

A tiny forwarding proxy on loopback (stdlib; absolute-form requests and ``CONNECT`` tunnels)
records what passes through it; an HTTPS origin on loopback serves a certificate signed by a CA
made for the test. A worker (sync client) and a trigger (async client) configured only through
``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` and ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` must
both go through the proxy and trust exactly that CA.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import random
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from contact_center_provider.http import (
    AsyncHttpClient,
    HttpClient,
    OAuth2ClientCredentials,
    RetryPolicy,
    VendorTransportError,
)
from contact_center_provider.http.transport import CA_BUNDLE_VARIABLES, CA_DIR_VARIABLE

ORG = "/api/v2/organizations/me"
FAST = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.02, jitter=0.0, deadline=30.0)
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
}
ENVIRONMENT = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", *CA_BUNDLE_VARIABLES, CA_DIR_VARIABLE)


# == a loopback proxy and an HTTPS origin =======================================================


class _Proxy(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        self.server.seen.append((self.command, self.path))
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream.request(
            self.command, target.path + (f"?{target.query}" if target.query else ""), body or None, headers
        )
        answer = upstream.getresponse()
        data = answer.read()
        upstream.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP | {"content-length", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

    def do_CONNECT(self) -> None:
        self.server.seen.append(("CONNECT", self.path))
        host, _, port = self.path.rpartition(":")
        upstream = socket.create_connection((host, int(port)), timeout=30)
        self.send_response(200, "Connection established")
        self.end_headers()
        ends = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(ends, [], [], 30)
                if not readable:
                    return
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()
            self.close_connection = True


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Proxy)
        self.seen: list[tuple[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Origin(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps({"hello": "tls", "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(server: ThreadingHTTPServer) -> Iterator[ThreadingHTTPServer]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def proxy() -> Iterator[_ProxyServer]:
    server = _ProxyServer()
    yield from _serve(server)  # type: ignore[misc]


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: ``(ca.pem, cert.pem, key.pem)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "contact-center test CA")])

    def builder(subject: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    ca = (
        builder(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), key.public_key())
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback; yields its URL and the CA bundle that trusts it."""
    ca, cert, key = _certificates(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Origin)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    for running in _serve(server):
        yield f"https://127.0.0.1:{running.server_address[1]}", ca


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


async def get_json(flavour: str, base_url: str, path: str, auth: Any = None) -> Any:
    kwargs: dict[str, Any] = {"vendor": "test", "auth": auth, "policy": FAST, "rng": random.Random(0)}
    if flavour == "async":
        async with AsyncHttpClient(base_url, **kwargs) as aclient:
            return await aclient.aget_json(path)
    with HttpClient(base_url, **kwargs) as client:
        return client.get_json(path)


# == tests ======================================================================================


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_requests_go_through_the_proxy_from_the_environment(
    sandbox: Any, proxy: _ProxyServer, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    base = f"{sandbox.url}/genesys-cloud"
    auth = OAuth2ClientCredentials(f"{base}/login/oauth/token", "sandbox-client", "s", vendor="genesys_cloud")
    org = await get_json(flavour, base, ORG, auth)
    assert org["id"]
    assert proxy.seen == [("POST", f"{base}/login/oauth/token"), ("GET", f"{base}{ORG}")]


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_no_proxy_is_honoured(
    sandbox: Any, proxy: _ProxyServer, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    base = f"{sandbox.url}/genesys-cloud"
    auth = OAuth2ClientCredentials(f"{base}/login/oauth/token", "sandbox-client", "s", vendor="genesys_cloud")
    assert (await get_json(flavour, base, ORG, auth))["id"]
    assert proxy.seen == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_https_through_a_connect_proxy_trusting_the_ca_bundle_from_the_environment(
    tls_origin: tuple[str, Path],
    proxy: _ProxyServer,
    monkeypatch: pytest.MonkeyPatch,
    flavour: str,
    variable: str,
) -> None:
    origin, ca = tls_origin
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv(variable, str(ca))
    assert await get_json(flavour, origin, "/hello?x=1") == {"hello": "tls", "path": "/hello?x=1"}
    assert proxy.seen == [("CONNECT", urlsplit(origin).netloc)]


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_an_untrusted_certificate_fails_before_sending_in_both_clients(
    tls_origin: tuple[str, Path], flavour: str
) -> None:
    origin, _ = tls_origin
    with pytest.raises(VendorTransportError) as caught:
        await get_json(flavour, origin, "/hello")
    text = str(caught.value)
    assert "connection failed before sending" in text and "CERTIFICATE_VERIFY_FAILED" in text
    assert caught.value.attempts == FAST.max_attempts


@pytest.mark.parametrize("flavour", ["sync", "async"])
async def test_an_unusable_ca_bundle_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match=r"CURL_CA_BUNDLE='.*missing\.pem' is not a usable CA bundle"):
        await get_json(flavour, "https://127.0.0.1:9", "/")
