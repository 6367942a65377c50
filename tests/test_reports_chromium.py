"""Open the rendered HTML reports in headless Chromium: no console errors, no network, sane layout.

Chromium is driven over the DevTools protocol (aiohttp websocket), which reports
console messages with their level, uncaught exceptions, failed loads and every
network request, and takes the screenshot. Skipped only when Chromium is missing
outside CI; in CI (``CI`` set) a missing browser fails.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from reports_fixtures import conversation_tables, presence_tables, utc
from test_reports import CALL_DETAIL_CONVS, EVIL_CONVS, P_END, P_START, presence_example

from contact_center_provider.transforms.reports import get_report, render
from contact_center_provider.transforms.reports.formatting import interval_text, js_date_string

pytestmark = pytest.mark.chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
    "--remote-debugging-port=0",
)
STARTUP_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 60
SCREENSHOT_DIR_ENV = "REPORT_SCREENSHOT_DIR"  # set to keep the screenshots somewhere


@pytest.fixture(scope="module", autouse=True)
def _need_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (CI must install it: apt-get install chromium)")
        pytest.skip("Chromium is not installed")


@dataclass
class PageReport:
    """What the browser saw while loading one page."""

    errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


class Cdp:
    """A minimal DevTools protocol client over one browser websocket (flat sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._pending:
                self._pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)
                for waiter in self._waiters.pop(data["method"], []):
                    if not waiter.done():
                        waiter.set_result(data)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("DevTools websocket closed"))

    def expect(self, method: str) -> asyncio.Future[dict[str, Any]]:
        """Return a future for the next event ``method`` (register before triggering it)."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(method, []).append(future)
        return future

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> Any:
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        await self._ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def close(self) -> None:
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


async def _devtools_url(stream: asyncio.StreamReader) -> str:
    while line := await stream.readline():
        text = line.decode(errors="replace").strip()
        if text.startswith("DevTools listening on "):
            return text.removeprefix("DevTools listening on ")
    raise RuntimeError("Chromium exited before opening the DevTools endpoint")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


@asynccontextmanager
async def browser(profile: Path) -> AsyncIterator[Cdp]:
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    drain: asyncio.Task[None] | None = None
    try:
        url = await asyncio.wait_for(_devtools_url(proc.stderr), STARTUP_TIMEOUT_S)
        drain = asyncio.create_task(_drain(proc.stderr))
        async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
            cdp = Cdp(ws)
            try:
                yield cdp
                await cdp.send("Browser.close")
            finally:
                await cdp.close()
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        if drain is not None:
            await drain


FACTS_JS = """
JSON.stringify({
  title: document.title,
  h1: document.querySelector('h1') && document.querySelector('h1').textContent,
  rows: document.querySelectorAll('tr').length,
  svgRects: document.querySelectorAll('svg rect').length,
  shownSections: Array.from(document.querySelectorAll('section.user'))
      .filter(s => getComputedStyle(s).display !== 'none').map(s => s.id),
  scripts: document.querySelectorAll('script').length,
  bodyWidth: document.body.scrollWidth,
})
"""


async def open_page(cdp: Cdp, page: Path, screenshot: Path | None, fragment: str = "") -> PageReport:
    """Load ``page`` in a fresh tab, collect problems and facts, optionally take a screenshot."""
    target = await cdp.send("Target.createTarget", {"url": "about:blank"})
    session = (await cdp.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}))[
        "sessionId"
    ]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await cdp.send(f"{domain}.enable", session=session)
    await cdp.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 1600, "deviceScaleFactor": 1, "mobile": False},
        session=session,
    )
    first_event = len(cdp.events)
    loaded = cdp.expect("Page.loadEventFired")
    await cdp.send("Page.navigate", {"url": page.as_uri() + fragment}, session=session)
    await asyncio.wait_for(loaded, COMMAND_TIMEOUT_S)
    facts = await cdp.send(
        "Runtime.evaluate", {"expression": FACTS_JS, "returnByValue": True}, session=session
    )
    if screenshot is not None:
        shot = await cdp.send("Page.captureScreenshot", {"format": "png"}, session=session)
        await asyncio.to_thread(screenshot.write_bytes, base64.b64decode(shot["data"]))
    report = PageReport(facts=json.loads(facts["result"]["value"]))
    for event in cdp.events[first_event:]:
        if event.get("sessionId") != session:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            report.errors.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            description = details.get("exception", {}).get("description", "")
            report.errors.append(f"exception: {details.get('text')} {description}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            report.errors.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                report.external_requests.append(url)
    await cdp.send("Target.closeTarget", {"targetId": target["targetId"]})
    return report


def _screenshot_dir(tmp_path: Path) -> Path:
    directory = Path(os.environ.get(SCREENSHOT_DIR_ENV) or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _call_detail_html(convs: list[dict[str, Any]]) -> str:
    spec = get_report("call_detail")
    context = spec.builder(
        spec.complete_tables(conversation_tables(convs)),
        run_date=js_date_string(utc(2017, 1, 13, 17, 56, 45), "America/Denver"),
        interval=interval_text(utc(2017, 1, 13, 17), utc(2017, 1, 13, 18), "America/Denver"),
    )
    return render(spec.template, context)


def _presence_html(tables: dict[str, Any]) -> str:
    spec = get_report("presence")
    context = spec.builder(
        spec.complete_tables(tables),
        run_date="Fri Jan 13 2017 11:03:12 GMT-0700",
        interval_start=P_START,
        interval_end=P_END,
        tz="America/Denver",
        job_name="Presence job",
    )
    return render(spec.template, context)


async def test_reports_render_cleanly_in_chromium(tmp_path: Path) -> None:
    shots = _screenshot_dir(tmp_path)
    pages = {
        "call_detail": _call_detail_html(CALL_DETAIL_CONVS + EVIL_CONVS),
        "call_detail_empty": _call_detail_html([]),
        "presence": _presence_html(presence_example()),
        "presence_empty": _presence_html(presence_tables([], [])),
    }
    async with browser(tmp_path / "profile") as cdp:
        reports = {}
        for name, html in pages.items():
            path = tmp_path / f"{name}.html"
            path.write_text(html, encoding="utf-8")
            reports[name] = await open_page(cdp, path, shots / f"{name}.png")
        selected = await open_page(cdp, tmp_path / "presence.html", None, fragment="#user-2")

    for name, report in reports.items():
        assert report.errors == [], name
        assert report.external_requests == [], name
        assert report.facts["scripts"] == 0, name
        assert report.facts["bodyWidth"] <= 1280, name  # no horizontal overflow
        png = (shots / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000, name
    assert reports["call_detail"].facts["title"] == "Call Data Report"
    assert (
        reports["call_detail"].facts["rows"] == 1 + 2 + 3 + 3 * 3
    )  # header, 5 conversations, 9 participants
    assert reports["presence"].facts["h1"].startswith("Presence job 2017-01-13T10:00:00.000-0700/")
    assert reports["presence"].facts["shownSections"] == ["user-1", "user-2", "user-3"]
    assert reports["presence"].facts["svgRects"] > 6
    # The user selector works without script: following a link shows only that user.
    assert selected.facts["shownSections"] == ["user-2"]
    assert selected.errors == []


async def test_the_checker_catches_console_errors_and_network(tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>bad</title>"
        '<script src="http://cdn.invalid/x.js"></script></head>'
        "<body><script>console.error('boom'); notDefined();</script></body></html>"
    )
    async with browser(tmp_path / "profile") as cdp:
        report = await open_page(cdp, bad, None)
    assert any("boom" in e for e in report.errors)
    assert any("notDefined" in e for e in report.errors)
    assert report.external_requests == ["http://cdn.invalid/x.js"]
