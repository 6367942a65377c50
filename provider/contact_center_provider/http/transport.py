"""The one transport both clients use: httpx, configured once from the environment.

Workers (:class:`~contact_center_provider.http.client.HttpClient`) and triggers
(:class:`~contact_center_provider.http.client.AsyncHttpClient`) send through the same library
with the same settings, so a deployment behaves the same in both:

* proxies from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` (httpx ``trust_env``);
* the CA bundle from ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE`` or ``SSL_CERT_FILE`` (first one
  set, as requests reads them; a folder works too) and ``SSL_CERT_DIR``; otherwise certifi's
  bundle, as requests and httpx use by default;
* redirects followed (credentials are dropped on a redirect to another host);
* one classification of transport failures (:func:`classify`) into the retry
  :class:`~contact_center_provider.http.retry.Outcome`.

httpx is what Airflow's own Task SDK and triggerer already import, so using it costs a
trigger nothing at import time.

httpx logs every request line at INFO and httpcore every response header at DEBUG; a filter on
those loggers removes query strings (pre-signed URLs carry their signature there) and cookies.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import ssl
from collections.abc import Mapping
from enum import Enum

import httpx

from contact_center_provider.http.errors import redact_urls
from contact_center_provider.http.retry import Outcome, OutcomeKind

__all__ = [
    "CA_BUNDLE_VARIABLES",
    "MAX_REDIRECTS",
    "Phase",
    "async_client",
    "classify",
    "ssl_context",
    "sync_client",
    "timeout",
]

#: Variables naming a CA bundle file (or folder), most specific first, as requests reads them.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
#: Variable naming a folder of hashed CA certificates (OpenSSL ``c_rehash`` layout).
CA_DIR_VARIABLE = "SSL_CERT_DIR"
MAX_REDIRECTS = 20
#: Longest transport message kept in an error (OS and TLS messages are short; this is a guard).
MAX_DETAIL_CHARS = 200


# -- TLS -----------------------------------------------------------------------------------------


def ssl_context(environ: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """The TLS context for vendor connections, from the CA variables in ``environ`` (``os.environ``).

    :raises ValueError: a CA variable names a file or folder that does not exist or holds no
        usable certificate (the message names the variable).
    """
    env = os.environ if environ is None else environ
    name, bundle = next(((v, env[v]) for v in CA_BUNDLE_VARIABLES if env.get(v)), ("", None))
    cert_dir = env.get(CA_DIR_VARIABLE) or None
    return _ssl_context(name, bundle, cert_dir)


@functools.lru_cache(maxsize=8)
def _ssl_context(name: str, bundle: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # Cached: loading a bundle takes tens of milliseconds and contexts are safe to share.
    if bundle is None and cert_dir is None:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    cafile = capath = None
    if bundle is not None:
        if os.path.isdir(bundle):
            capath = bundle
        else:
            cafile = bundle
    if cert_dir is not None:
        if not os.path.isdir(cert_dir):
            raise ValueError(f"{CA_DIR_VARIABLE}={cert_dir!r} is not a folder")
        capath = capath or cert_dir
    try:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"{name}={bundle!r} is not a usable CA bundle ({exc})") from None


# -- clients -------------------------------------------------------------------------------------


def timeout(seconds: float) -> httpx.Timeout:
    """Connect, read and write timeout of one attempt; no limit on waiting for a pooled connection
    (the pool only queues our own concurrent requests)."""
    return httpx.Timeout(seconds, pool=None)


def _limits(fresh_connections: bool) -> httpx.Limits:
    # fresh_connections: no keep-alive pool, so every request opens (and closes) its own
    # connection; used for job-creating requests (see ClientCore.base_headers).
    return httpx.Limits(max_keepalive_connections=0) if fresh_connections else httpx.Limits()


def sync_client(*, fresh_connections: bool = False) -> httpx.Client:
    """A new httpx client for :class:`HttpClient`, configured from the environment."""
    return httpx.Client(
        verify=ssl_context(),
        trust_env=True,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        limits=_limits(fresh_connections),
    )


def async_client(*, fresh_connections: bool = False) -> httpx.AsyncClient:
    """A new httpx client for :class:`AsyncHttpClient`, configured from the environment."""
    return httpx.AsyncClient(
        verify=ssl_context(),
        trust_env=True,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        limits=_limits(fresh_connections),
    )


# -- failures ------------------------------------------------------------------------------------


class Phase(Enum):
    """Where an attempt was when it failed."""

    #: Connecting, sending, or waiting for the status line.
    SENDING = "sending"
    #: Status and headers arrived; reading the body.
    BODY = "body"


def _detail(exc: BaseException, with_message: bool) -> str:
    name = type(exc).__name__
    if not with_message:
        return name
    message = redact_urls(str(exc)).strip()
    if len(message) > MAX_DETAIL_CHARS:
        message = message[: MAX_DETAIL_CHARS - 3] + "..."
    return f"{name}: {message}" if message else name


def classify(exc: httpx.HTTPError | httpx.InvalidURL, phase: Phase) -> Outcome:
    """Map an httpx failure to the retry :class:`Outcome` (pure; the one classification).

    Connect failures (refused, DNS, TLS handshake, proxy refusal) prove the request was not
    sent. Anything after that may have reached the vendor: a reset or protocol error while
    waiting for the status line, a read timeout, or a broken body. Invalid URLs and headers,
    unsupported schemes and redirect loops are not retryable.

    The detail carries the exception type and, for network failures, its message (OS and TLS
    texts like ``certificate verify failed``), never a URL's query; for invalid requests only
    the type, since httpx quotes the offending URL part or header value.
    """
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return Outcome(OutcomeKind.INVALID_REQUEST, detail=_detail(exc, False))
    if isinstance(exc, httpx.TooManyRedirects):
        return Outcome(OutcomeKind.TOO_MANY_REDIRECTS, detail=f"more than {MAX_REDIRECTS}")
    detail = _detail(exc, True)
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError):
        return Outcome(OutcomeKind.CONNECT_ERROR, detail=detail)
    if phase is Phase.BODY:
        return Outcome(OutcomeKind.TRUNCATED, detail=detail)
    if isinstance(exc, httpx.TimeoutException):  # read or write timeout after connecting
        return Outcome(OutcomeKind.TIMEOUT, detail=detail)
    # ReadError, WriteError, CloseError, RemoteProtocolError, DecodingError...: the connection
    # broke after the request went (at least partly) out.
    return Outcome(OutcomeKind.RESET, detail=detail)


# -- log redaction -------------------------------------------------------------------------------

_COOKIE = re.compile(r"(b?['\"](?:set-)?cookie['\"],\s*b?['\"])[^'\"]*", re.IGNORECASE)


class RedactFilter(logging.Filter):
    """Remove query strings and cookies from httpx's and httpcore's log records.

    httpx logs ``HTTP Request: GET <url> "HTTP/1.1 200 OK"`` at INFO (the URL of a pre-signed
    download carries its signature in the query); httpcore logs response headers at DEBUG
    (a redirect's ``Location`` may be such a URL, ``Set-Cookie`` a session).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _COOKIE.sub(r"\1<redacted>", redact_urls(message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


#: The loggers httpx and httpcore write to (a logger's filters do not apply to its children).
REDACTED_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def _install_log_redaction() -> None:
    for name in REDACTED_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in target.filters):
            target.addFilter(RedactFilter())


_install_log_redaction()
