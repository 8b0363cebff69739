"""The dashboard in a real browser: Debian's headless Chromium, driven by playwright, against a
running gateway with simulated batteries.

Skipped (with the reason) when playwright or /usr/bin/chromium is missing; `.ci/run` installs
chromium. playwright's own browser download is never used. Screenshots go to ``artifacts/``
(or ``$BATMUX_ARTIFACTS``), which git ignores.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from batmux.sinks.history_store import HistoryStore
from web.test_web_server import BATTERIES, gateway_web

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
CHROMIUM = Path(os.environ.get("BATMUX_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="module")
ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("BATMUX_ARTIFACTS", Path(__file__).parents[2] / "artifacts"))
TOKEN = "correct-horse-battery"
TIMEOUT_MS = 5000


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Any]:
    """One browser for the module; launch() gives every run a fresh temporary profile."""
    async with playwright_api.async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@contextlib.asynccontextmanager
async def page_of(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1200, "height": 1400})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
        assert not errors, errors  # no JavaScript exception on the way
    finally:
        await context.close()


def prefill_history(state_dir: Path, battery: str, hours: float = 2.0) -> int:
    """Two hours of 1 Hz rounds before the gateway starts: the 1 h chart has to thin them."""
    now = time.time()
    rows = []
    for i in range(int(hours * 3600)):
        t = now - hours * 3600 + i
        soc = 50 + 10 * math.sin(i / 900)
        cell = 3.30 + 0.0001 * soc
        rows.append((battery, t, 1, soc, 13.2, 10.0, 132.0, cell, cell + 0.01, 0.01, 22.0))
    store = HistoryStore(state_dir / "history.sqlite")
    store.write_round(rows)
    store.close()
    return len(rows)


async def test_dashboard_shows_cells_charts_and_live_updates_under_a_prefix(
    browser: Any, tmp_path: Path
) -> None:
    prefill_history(tmp_path / "state", "garage")
    async with (
        gateway_web(tmp_path, base_path="/batmux/") as (_, base),
        page_of(browser) as page,
    ):
        assert base.endswith("/batmux/")
        await page.goto(base)
        # the overview, live from api/events: every battery, with its SoC
        await page.wait_for_selector("#live.on")
        overview = page.locator("#overview")
        for name in ("garage", "rv"):
            await overview.locator(f'a[href="#/b/{name}"]').wait_for()
        await page.evaluate("window.__same_page = 1")  # gone if the page reloads

        await page.click('a[href="#/b/garage"]')
        bars = page.locator("#b-live .cells .cell")
        await bars.first.wait_for()
        assert await bars.count() == 4  # garage simulates 4 cells
        values = [float(v) for v in await page.locator("#b-live .cells .cell .v").all_inner_texts()]
        assert all(3.0 < v < 3.6 for v in values), values
        assert "Δ" in await page.locator("#b-live .cells + p").inner_text()

        # the charts: thinned history from the prefilled store plus the live rounds
        chart = page.locator(".chart").first
        await page.wait_for_function(
            "+(document.querySelector('.chart') || {dataset: {}}).dataset.points > 100"
        )
        points = int(await chart.get_attribute("data-points") or 0)
        assert 100 < points <= 700, points  # api/history?points=600
        assert await page.locator(".chart canvas").count() == 4

        # a live update arrives without a reload: the sample counter moves on
        samples = page.locator("#b-live tr", has_text="samples").locator("td").nth(1)
        before = await samples.inner_text()
        await page.wait_for_function(
            "(before) => { const rows = [...document.querySelectorAll('#b-live tr')];"
            " const r = rows.find(x => x.firstChild.textContent === 'samples');"
            " return r && r.children[1].textContent !== before; }",
            arg=before,
        )
        assert await page.evaluate("window.__same_page") == 1

        # the frame capture for a bug report, through the page's link
        href = await page.locator("#b-capture").get_attribute("href")
        assert href == "api/capture/garage"
        async with aiohttp.ClientSession() as http, http.get(base + href) as response:
            assert response.status == 200
            assert "attachment" in response.headers["Content-Disposition"]
            lines = (await response.text()).splitlines()
        assert '"device": "garage"' in lines[0] and len(lines) > 1

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "dashboard-battery.png"), full_page=True)
        await page.click('a[href="#/"]')
        await page.locator('#overview a[href="#/b/rv"]').wait_for()
        await page.screenshot(path=str(ARTIFACTS / "dashboard-overview.png"), full_page=True)


async def test_the_token_guards_the_dashboard_on_a_non_loopback_bind(
    browser: Any, tmp_path: Path
) -> None:
    batteries = [{**b, "allow_control": b["name"] == "rv"} for b in BATTERIES]
    async with (
        gateway_web(tmp_path, batteries, host="0.0.0.0", token=TOKEN, base_path="/batmux/") as (
            gw,
            base,
        ),
        page_of(browser) as page,
    ):
        # (a navigation to a 401 with "WWW-Authenticate: Basic" ends in the browser's login
        # prompt, which headless Chromium turns into an error: ask through the page's client)
        for path in ("", "api/events", "static/dashboard.js", "api/history?battery=rv"):
            refused = await page.request.get(base + path)
            assert refused.status == 401, path
        response = await page.goto(f"{base}?token={TOKEN}#/b/rv")
        assert response is not None and response.status == 200
        # static assets, api/events and api/history all carry the token: live data arrives
        await page.wait_for_selector("#live.on")
        assert await page.locator("#b-live .cells .cell").count() == 8
        await page.wait_for_function(
            "+(document.querySelector('.chart') || {dataset: {}}).dataset.points > 0"
        )
        # rv has allow_control: its charge switch turns off from the page (a POST with the token)
        assert await page.locator('[data-sw="charge"]').inner_text() == "yes"
        await page.click('#b-live button[data-switch="charge"]')
        await page.wait_for_function(
            "document.querySelector('[data-sw=\"charge\"]').textContent === 'no'"
        )
        # garage has not: its switches are shown, and nothing offers to change them
        await page.click('a[href="#/"]')
        await page.click('#overview a[href="#/b/garage"]')
        await page.locator("#b-live .cells .cell").first.wait_for()
        assert await page.locator("#b-live button[data-switch]").count() == 0
        assert "Read-only" in await page.locator("#b-live").inner_text()
    assert gw.state_dir.joinpath("history.sqlite").exists()
    db = sqlite3.connect(gw.state_dir / "history.sqlite")
    try:
        assert db.execute("SELECT COUNT(*) FROM samples WHERE battery='rv'").fetchone()[0] > 0
    finally:
        db.close()
