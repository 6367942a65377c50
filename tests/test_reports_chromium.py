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
from reports_fixtures import (
    CALL_DETAIL_CONVS,
    EVIL_CONVS,
    P_END,
    P_START,
    conversation_tables,
    presence_example,
    presence_tables,
    random_presence,
    render_report,
    utc,
)

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
  externalScripts: document.querySelectorAll('script[src]').length,
  bodyWidth: document.body.scrollWidth,
})
"""


async def open_page(
    cdp: Cdp,
    page: Path,
    screenshot: Path | None,
    fragment: str = "",
    probe: str | None = None,
    scripts_enabled: bool = True,
) -> PageReport:
    """Load ``page`` in a fresh tab, collect problems and facts, optionally take a screenshot.

    :param probe: a JavaScript expression returning JSON text, evaluated after load into ``facts["probe"]``.
    :param scripts_enabled: False loads the page with its own scripts disabled.
    """
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
    if not scripts_enabled:
        await cdp.send("Emulation.setScriptExecutionDisabled", {"value": True}, session=session)
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
    if probe is not None:
        result = await cdp.send(
            "Runtime.evaluate", {"expression": probe, "returnByValue": True}, session=session
        )
        report.facts["probe"] = json.loads(result["result"]["value"])
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


DENVER = "America/Denver"

#: The agents of the index in the order the browser shows them, and whether the filter box shows.
INDEX_PROBE = """
JSON.stringify((() => {
  const rows = Array.from(document.querySelectorAll('#agents tbody tr'))
      .filter(r => getComputedStyle(r).display !== 'none');
  rows.sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top);
  return {names: rows.map(r => r.cells[0].textContent),
          filterShown: !document.getElementById('filter').hidden};
})())
"""


def _type_filter(text: str) -> str:
    """A probe that types ``text`` into the filter box first."""
    return (
        "(() => { const q = document.getElementById('q'); q.value = "
        + json.dumps(text)
        + "; q.dispatchEvent(new Event('input')); return "
        + INDEX_PROBE.strip()
        + "; })()"
    )


def _write(directory: Path, rendered: Any, name: str) -> Path:
    """Write a rendered report (main file and secondary files) under ``directory/name/``."""
    main = directory / name / rendered.main_name
    for file_name, html in rendered.files.items():
        (main.parent / file_name).parent.mkdir(parents=True, exist_ok=True)
        (main.parent / file_name).write_text(html, encoding="utf-8")
    main.parent.mkdir(parents=True, exist_ok=True)
    main.write_text(rendered.main, encoding="utf-8")
    return main


def _call_detail(convs: list[dict[str, Any]], **params: Any) -> Any:
    return render_report(
        "call_detail",
        conversation_tables(convs),
        start=utc(2017, 1, 13, 17),
        end=utc(2017, 1, 13, 18),
        tz=DENVER,
        **params,
    )


def _presence(tables: dict[str, Any], **params: Any) -> Any:
    return render_report(
        "presence", tables, start=P_START, end=P_END, tz=DENVER, job_name="Presence job", **params
    )


async def test_reports_render_cleanly_in_chromium(tmp_path: Path) -> None:
    shots = _screenshot_dir(tmp_path)
    example = _presence(presence_example())
    mains = {
        "call_detail": _write(tmp_path, _call_detail(CALL_DETAIL_CONVS + EVIL_CONVS), "call_detail"),
        "call_detail_empty": _write(tmp_path, _call_detail([]), "call_detail_empty"),
        "call_detail_paged": _write(
            tmp_path, _call_detail(CALL_DETAIL_CONVS + EVIL_CONVS, page_size=2), "paged"
        ),
        "presence": _write(tmp_path, example, "presence"),
        "presence_empty": _write(tmp_path, _presence(presence_tables([], [])), "presence_empty"),
        "presence_groups": _write(tmp_path, _presence(presence_example(), group_by="division_id"), "groups"),
    }
    pages = dict(mains)
    pages["call_detail_page"] = next((mains["call_detail_paged"].parent / "call_detail_files").iterdir())
    alice = next(name for name, html in example.files.items() if "<h1>Alice" in html)
    pages["presence_agent"] = mains["presence"].parent / alice
    async with browser(tmp_path / "profile") as cdp:
        reports = {name: await open_page(cdp, path, shots / f"{name}.png") for name, path in pages.items()}

    for name, report in reports.items():
        assert report.errors == [], name
        assert report.external_requests == [], name
        assert report.facts["externalScripts"] == 0, name
        # Only a presence index with agents carries a script (its filter box); nothing else has one.
        assert report.facts["scripts"] == (1 if name == "presence" else 0), name
        assert report.facts["bodyWidth"] <= 1280, name  # no horizontal overflow
        png = (shots / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000, name
    assert reports["call_detail"].facts["title"] == "Call Data Report"
    # header, 5 conversations, 9 participants
    assert reports["call_detail"].facts["rows"] == 1 + 5 + 9
    assert reports["call_detail_paged"].facts["rows"] == 1 + 3  # header, one row per page
    assert reports["presence"].facts["h1"].startswith("Presence job 2017-01-13T10:00:00.000-0700/")
    assert reports["presence"].facts["rows"] == 1 + 3
    assert reports["presence_agent"].facts["svgRects"] == 2 + 3  # two lane backgrounds, three spans


async def test_presence_index_sorts_without_script_and_filters_with_it(tmp_path: Path) -> None:
    start, end = utc(2024, 5, 1), utc(2024, 5, 2)
    rendered = render_report(
        "presence", random_presence(60, start, end, seed=5), start=start, end=end, tz="UTC"
    )
    main = _write(tmp_path, rendered, "presence")
    names = [row[0] for row in _index_rows(rendered.main)]
    by_time = _index_column(rendered.main, 3)  # agent, division, c0, then c1
    async with browser(tmp_path / "profile") as cdp:
        default = await open_page(cdp, main, None, probe=INDEX_PROBE, scripts_enabled=False)
        sorted_ = await open_page(
            cdp, main, None, fragment="#by-c1", probe=INDEX_PROBE, scripts_enabled=False
        )
        by_division = await open_page(
            cdp, main, None, fragment="#by-division", probe=INDEX_PROBE, scripts_enabled=False
        )
        filtered = await open_page(cdp, main, None, probe=_type_filter("div-2"))
        detail = await open_page(cdp, main.parent / _first_link(rendered.main), None)
    for report in (default, sorted_, by_division, filtered, detail):
        assert report.errors == [] and report.external_requests == []
    assert default.facts["probe"] == {"names": names, "filterShown": False}  # name order, no filter box
    assert len(names) == 60 and names == sorted(names, key=str.casefold)
    # Sorted by the column's time, longest first, by CSS alone; agents without that status last.
    shown = sorted_.facts["probe"]["names"]
    assert sorted(shown) == sorted(names)
    times = [by_time[name] for name in shown]
    assert times == sorted(times, key=lambda t: -_seconds(t)) and times[0] != ""
    divisions = [_division(rendered.main, name) for name in by_division.facts["probe"]["names"]]
    assert divisions == sorted(divisions)
    # The filter box (script) keeps the agents of division div-2.
    assert filtered.facts["probe"]["filterShown"] is True
    assert filtered.facts["probe"]["names"] == [n for n in names if _division(rendered.main, n) == "div-2"]
    assert detail.facts["svgRects"] > 2 and detail.facts["scripts"] == 0


def _index_rows(html: str) -> list[list[str]]:
    from reports_fixtures import parse

    return parse(html).tables[0][1:]


def _index_column(html: str, index: int) -> dict[str, str]:
    return {row[0]: row[index] for row in _index_rows(html)}


def _division(html: str, name: str) -> str:
    return _index_column(html, 1)[name]


def _first_link(html: str) -> str:
    from reports_fixtures import parse

    return next(h for h in parse(html).hrefs if h.startswith("presence_files/"))


def _seconds(clock: str) -> int:
    if not clock:
        return 0
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + int(s)


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
