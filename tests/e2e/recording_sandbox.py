"""The vendor sandbox as its own process, recording the credentials it issues and receives.

``python tests/e2e/recording_sandbox.py --record FILE [sandbox options]`` runs exactly
``python -m contact_center_provider.sandbox`` (same app, same options, same "sandbox ready"
line) with one more middleware. It appends to ``FILE`` (JSON lines) every credential that
crossed the wire, so the secrets audit can search for values that exist only at run time:

* bearer tokens and API keys clients sent (``Authorization``, ``x-api-key``...), and the
  secret half of HTTP Basic credentials;
* tokens in JSON answers (any string under a key containing ``token``);
* pre-signed URLs in JSON answers or ``Location`` headers (a query carrying a signature,
  credential or token), whole and their signature alone.

The sandbox itself never logs headers or bodies; this recorder exists for the audit only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

#: Request headers that carry a credential.
SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "apikey", "x-auth-token", "cookie"}
#: Query parameter names that make a URL a signed (bearer) URL...
SIGNED_QUERY = re.compile(r"signature|^sig$|credential|token", re.IGNORECASE)
#: ... and those whose value is the secret part of it (a credential id is not).
SECRET_QUERY = re.compile(r"signature|^sig$|token", re.IGNORECASE)
#: Tokens shorter than this are not credentials (state names, counters).
MIN_SECRET_LENGTH = 12


def credentials_in_headers(headers: Any) -> Iterator[tuple[str, str]]:
    """``(kind, value)`` for each credential in request headers."""
    for name, value in headers.items():
        lname = name.lower()
        if lname not in SECRET_HEADERS or not value:
            continue
        scheme, _, rest = value.partition(" ")
        if lname == "authorization" and scheme.lower() == "bearer" and rest:
            yield "bearer_token", rest.strip()
        elif lname == "authorization" and scheme.lower() == "basic" and rest:
            yield "basic_credentials", rest.strip()
            try:
                decoded = base64.b64decode(rest.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                continue
            _, sep, secret = decoded.partition(":")
            if sep and len(secret) >= 4:
                yield "basic_secret", secret
        else:
            yield f"header_{lname}", value.strip()


def signed_url_parts(url: str) -> Iterator[tuple[str, str]]:
    """The URL and its signing values when ``url`` is pre-signed, else nothing."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.query:
        return
    signing = [(k, v) for k, v in parse_qsl(parts.query) if SIGNED_QUERY.search(k) and len(v) >= 8]
    if not signing:
        return
    yield "presigned_url", url
    for key, value in signing:
        if SECRET_QUERY.search(key):
            yield f"url_{key.lower()}", value


def credentials_in_json(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    """Tokens and pre-signed URLs anywhere in a decoded JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from credentials_in_json(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from credentials_in_json(item, key)
    elif isinstance(value, str):
        if "token" in key.lower() and len(value) >= MIN_SECRET_LENGTH and " " not in value:
            yield f"issued_{key}", value
        yield from signed_url_parts(value)


class Recorder:
    """Appends ``{"kind", "value", "path"}`` lines to a file (thread-safe, de-duplicated)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def add(self, kind: str, value: str, path: str) -> None:
        with self._lock:
            if (kind, value) in self._seen:
                return
            self._seen.add((kind, value))
            with self.path.open("a") as out:
                out.write(json.dumps({"kind": kind, "value": value, "path": path}) + "\n")

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def record(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if request.path.startswith("/_sandbox"):
                return await handler(request)
            for kind, value in credentials_in_headers(request.headers):
                self.add(kind, value, request.path)
            response = await handler(request)
            location = response.headers.get("Location")
            if location:
                for kind, value in signed_url_parts(location):
                    self.add(kind, value, request.path)
            body = getattr(response, "body", None)
            if isinstance(body, bytes | bytearray) and body[:1] in (b"{", b"["):
                try:
                    document = json.loads(body)
                except ValueError:
                    document = None
                for kind, value in credentials_in_json(document):
                    self.add(kind, value, request.path)
            return response

        return record


def main(argv: list[str]) -> int:
    from contact_center_provider.sandbox import __main__ as sandbox_main
    from contact_center_provider.sandbox.app import create_app

    if "--record" not in argv:
        print("usage: recording_sandbox.py --record FILE [sandbox options]", file=sys.stderr)
        return 2
    index = argv.index("--record")
    recorder = Recorder(Path(argv[index + 1]))
    rest = argv[:index] + argv[index + 2 :]

    def create_recording_app(**kwargs: Any) -> web.Application:
        app = create_app(**kwargs)
        # Innermost: it sees the vendor's own answer, after the sandbox's fault middleware.
        app.middlewares.append(recorder.middleware())
        return app

    sandbox_main.create_app = create_recording_app  # type: ignore[assignment]
    return sandbox_main.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
