"""The HTML report in a real browser: Debian's Chromium, headless, driven over the DevTools
protocol on a pipe (``--remote-debugging-pipe``: no port, no websocket library, nothing
downloaded). Every view must draw its charts with no console error, and the filters must
switch charts and rows; a full-page screenshot is kept as the test's artifact."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from shared.report import render_report
from shared.report.views import VIEWS
from tests.report.test_report import RELEASE, build_warehouse

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--remote-debugging-pipe",
)
CALL_TIMEOUT = 30.0


def _chromium() -> Path:
    found = CHROMIUM if CHROMIUM.exists() else None
    if found is None and (on_path := shutil.which("chromium")):
        found = Path(on_path)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: `make test` installs Debian's chromium")
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium); CI runs this")
    return found


class DevTools:
    """A minimal DevTools client over Chromium's pipe: fd 3 in, fd 4 out, NUL-separated JSON."""

    def __init__(self, binary: Path, profile: Path):
        # Four new fds: fds 3 and 4 are open now, as pass_fds needs them to be.
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()

        def wire_pipes() -> None:  # in the child, before exec: the protocol's fixed fds
            write_end = from_browser_write
            if write_end == 3:  # moving the read end onto fd 3 would close it
                write_end = os.dup(write_end)
            os.dup2(to_browser_read, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [str(binary), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes,
            pass_fds=(3, 4),
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") != self._next_id:
                self.events.append(answer)
                continue
            if "error" in answer:
                raise RuntimeError(f"{method}: {answer['error']}")
            return answer.get("result", {})

    def wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            self.process.kill()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    warehouse = build_warehouse(tmp_path_factory.mktemp("gold"))
    out = tmp_path_factory.mktemp("report") / "report.html"
    render_report(warehouse, out, release_date=RELEASE, generated_at=datetime(2026, 2, 5, 8, 0))
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    binary = _chromium()
    devtools = DevTools(binary, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield devtools
    finally:
        devtools.close()


def _evaluate(devtools: DevTools, session: str, expression: str) -> Any:
    result = devtools.call(
        "Runtime.evaluate", session, expression=expression, returnByValue=True, awaitPromise=True
    )
    if "exceptionDetails" in result:
        raise AssertionError(result["exceptionDetails"])
    return result["result"].get("value")


CHARTS_PER_VIEW = """
Array.from(document.querySelectorAll("section.view")).map(function (view) {
  var drawn = Array.from(view.querySelectorAll("figure.chart:not([hidden]) svg"))
    .filter(function (svg) { var box = svg.getBoundingClientRect();
      return box.width > 100 && box.height > 50 && svg.querySelectorAll("path").length > 0; });
  return {view: view.id, charts: drawn.length,
          tables: view.querySelectorAll("table").length};
})
"""

SELECT = """
(function (name, value) {
  var select = document.querySelector('#filters [name="' + name + '"]');
  select.value = value;
  select.dispatchEvent(new Event("change", {bubbles: true}));
})(%s, %s)
"""

BLOCK_STATE = """
(function (id) {
  var block = document.getElementById(id);
  var visible = Array.from(block.querySelectorAll("tbody tr")).filter(function (row) {
    return !row.hidden; });
  var chart = block.querySelector("figure.chart:not([hidden])");
  var note = block.querySelector(".empty-filtered");
  return {rows: visible.map(function (row) { return row.getAttribute("data-split"); }),
          chart: chart ? chart.getAttribute("data-variant") : null,
          note: note && !note.hidden ? note.textContent : null};
})(%s)
"""


def test_every_view_draws_its_charts_without_console_errors_and_filters_work(
    browser: DevTools, page_file: Path, tmp_path_factory: pytest.TempPathFactory, capsys
) -> None:
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        browser.call(f"{domain}.enable", session)
    browser.call("Page.navigate", session, url=page_file.as_uri())
    browser.wait_for("Page.loadEventFired")

    drawn = {entry["view"]: entry for entry in _evaluate(browser, session, CHARTS_PER_VIEW)}
    for view in VIEWS:
        expected = sum(1 for block in view.blocks if block.chart is not None)
        assert drawn[f"view-{view.key}"]["charts"] == expected, view.key
        assert drawn[f"view-{view.key}"]["tables"] == len(view.blocks), view.key

    _evaluate(browser, session, SELECT % (json.dumps("product"), json.dumps("Ramen Kit")))
    sentiment = _evaluate(browser, session, BLOCK_STATE % json.dumps("block-product_sentiment"))
    assert sentiment == {"rows": ["Ramen Kit"], "chart": "Ramen Kit", "note": None}
    # "unknown" has an insight and an outcome, but too few mentions for the sentiment block.
    _evaluate(browser, session, SELECT % (json.dumps("product"), json.dumps("unknown")))
    sentiment = _evaluate(browser, session, BLOCK_STATE % json.dumps("block-product_sentiment"))
    assert sentiment == {
        "rows": [],
        "chart": None,
        "note": "No data for this product in the window.",
    }
    _evaluate(browser, session, SELECT % (json.dumps("product"), json.dumps("")))
    everything = _evaluate(browser, session, BLOCK_STATE % json.dumps("block-product_sentiment"))
    assert everything["chart"] == "" and len(everything["rows"]) == 2

    metrics = browser.call("Page.getLayoutMetrics", session)["cssContentSize"]
    shot = browser.call(
        "Page.captureScreenshot",
        session,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1},
    )
    artifact = tmp_path_factory.mktemp("artifacts") / "report.png"
    artifact.write_bytes(base64.b64decode(shot["data"]))
    with capsys.disabled():
        print(f"\nreport screenshot: {artifact}")

    problems = [
        event["params"]
        for event in browser.events
        if (
            event.get("method") == "Runtime.consoleAPICalled" and event["params"]["type"] == "error"
        )
        or event.get("method") == "Runtime.exceptionThrown"
        or (
            event.get("method") == "Log.entryAdded" and event["params"]["entry"]["level"] == "error"
        )
    ]
    assert problems == []
    assert artifact.stat().st_size > 10_000
