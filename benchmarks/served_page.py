"""The explorer served in this process and driven by Chromium, for benchmarks/explorer_speed.py.

A periodic callback every 20 ms on the server's event loop records the gaps between its calls: the longest gap is the
longest time the loop was held, i.e. how long a click of any session would have waited.
`sessions` serves with `latentsweep explore` in a subprocess instead, and opens many sessions at once.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import panel as pn
from tornado.ioloop import PeriodicCallback

from explorer.page import warmup

HEARTBEAT_MS = 20
ROWS = 4  # rows clicked, each twice (a first visit, then a revisit)
WORKBENCH = {"width": 1600, "height": 1000}
START_SECONDS = 180  # the first page of a fresh process imports Panel, HoloViews and torch
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class ServedExplorer:
    """`with ServedExplorer(results, chromium, build_app) as served: served.switch_rows(...)`."""

    def __init__(self, results: Path, chromium: str, build_app: Callable) -> None:
        self.results, self.chromium, self.build_app = results, chromium, build_app
        self.gaps: list[float] = []
        self.heartbeat: PeriodicCallback | None = None

    def _session(self):
        if self.heartbeat is None:  # a plain Tornado callback: Panel's own would flash the page's busy indicator
            last = [time.perf_counter()]

            def beat() -> None:
                now = time.perf_counter()
                self.gaps.append(now - last[0] - HEARTBEAT_MS / 1000)
                last[0] = now

            self.heartbeat = PeriodicCallback(beat, HEARTBEAT_MS)
            self.heartbeat.start()
        return self.build_app(str(self.results))

    def __enter__(self) -> ServedExplorer:
        from playwright.sync_api import sync_playwright

        warmup.warm_up_in_background()  # as `latentsweep explore` does at start
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.server = pn.serve({"/": self._session}, port=port, threaded=True, show=False)
        warmup.finished.wait(120)
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=self.chromium, args=CHROMIUM_ARGS)
        self.page = self.browser.new_page(viewport={"width": 1500, "height": 2700})
        self.page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
        self.rows = self.page.locator(".tabulator-row")
        self.rows.first.wait_for(timeout=60_000)
        self.ids = [self.rows.nth(i).inner_text().split()[0] for i in range(min(ROWS, self.rows.count()))]
        return self

    def switch_rows(self, open_card: bool) -> dict[str, float]:
        """Click each row twice, ending on the last; median seconds until the per-trial (and latent) views show the
        clicked trial, and the longest loop hold meanwhile."""
        page = self.page
        if not open_card:  # the per-trial views' tab; tabs are rendered only while shown
            page.locator(".bk-tab", has_text="Trial").first.click()
        else:  # the tab's first drawing (of the trial selected last) is not a switch: not counted
            page.locator(".bk-tab", has_text="Latent space").first.click()
            page.locator(".ls-trial", has_text=self.ids[-1]).wait_for(timeout=120_000)
        page.wait_for_timeout(500)
        self.gaps.clear()
        shown, latent = [], []
        for index in list(range(len(self.ids))) * 2:
            times = self._click(index, latent=open_card)
            shown.append(times[0])
            latent.append(times[1])
            page.wait_for_timeout(300)
        hold = max(self.gaps, default=0.0)
        return {"shown": statistics.median(shown), "latent": statistics.median(latent), "hold": hold}

    def _click(self, index: int, latent: bool) -> tuple[float, float]:
        trial_id = self.ids[index]
        start = time.perf_counter()
        self.rows.nth(index).click()
        if latent:  # the latent tab is the one shown: the per-trial views wait, hidden, until their tab opens
            self.page.locator(".ls-trial", has_text=trial_id).wait_for(timeout=120_000)
            return time.perf_counter() - start, time.perf_counter() - start
        self.page.get_by_text(f"{trial_id} · TERMINATED").wait_for(timeout=60_000)
        return time.perf_counter() - start, 0.0

    def __exit__(self, *_: object) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.browser.close()
        self.playwright.stop()
        self.server.stop()


class ExploreProcess:
    """`latentsweep explore RESULTS` in a subprocess (its own memory, as a person runs it); RSS read from /proc."""

    def __init__(self, results: Path, log_path: Path) -> None:
        self.results, self.log_path = results, log_path

    def __enter__(self) -> ExploreProcess:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "vaemodels.cli", "explore", str(self.results), "--port", str(self.port)]
        self.log = self.log_path.open("w")
        repo = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=repo)
        deadline = time.monotonic() + START_SECONDS
        while "serving" not in self.log_path.read_text():  # printed once the page answers
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"latentsweep explore did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        self.url = f"http://127.0.0.1:{self.port}/"
        return self

    def rss_mb(self) -> float:
        """Resident memory of the server process, in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS line in /proc/PID/status")

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


async def _open_sessions(browser, url: str, count: int) -> tuple[list[float], list]:
    """Open `count` pages at once (a browser context each); seconds from the start until each shows a table row.
    Then each, as a person would, picks the first trial and opens its latent space (not timed)."""
    contexts = [await browser.new_context(viewport=WORKBENCH) for _ in range(count)]
    start = time.perf_counter()

    async def one(context) -> float:
        page = await context.new_page()
        await page.goto(url, timeout=120_000)
        rows = page.locator(".tabulator-row")
        await rows.first.wait_for(timeout=300_000)
        shown = time.perf_counter() - start
        trial_id = (await rows.first.inner_text()).split()[0]
        await rows.first.dispatch_event("click")  # a plain click may land on the tabs, which overlap a tall row
        await page.locator(".bk-tab", has_text="Latent space").first.click()
        await page.locator(".ls-trial", has_text=trial_id).wait_for(timeout=300_000)
        return shown

    return list(await asyncio.gather(*(one(context) for context in contexts))), contexts


def sessions(results: Path, chromium: str, log_path: Path, settle_s: float, concurrent: int = 8) -> dict[str, float]:
    """First render of a new session (after one has warmed the server), `concurrent` sessions at once, and the
    server's RSS before them, while they are open and `settle_s` after they close. Every session opens the same
    trial's latent space: the data the sessions share (the store's caches) is loaded before `before` is read."""
    from playwright.async_api import async_playwright

    async def run(server: ExploreProcess) -> dict[str, float]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            firsts = []
            for _ in range(4):  # the first warms the browser and the server's shared caches: not counted
                times, contexts = await _open_sessions(browser, server.url, 1)
                firsts.append(times[0])
                for context in contexts:
                    await context.close()
            await asyncio.sleep(settle_s)
            before = server.rss_mb()
            times, contexts = await _open_sessions(browser, server.url, concurrent)
            during = server.rss_mb()
            for context in contexts:
                await context.close()
            await asyncio.sleep(settle_s)
            after = server.rss_mb()
            await browser.close()
        return {
            "first render": statistics.median(firsts[1:]),
            "first render best": min(firsts[1:]),
            "sessions all": max(times),
            "sessions first": min(times),
            "rss before": before,
            "rss during": during,
            "rss after": after,
        }

    with ExploreProcess(results, log_path) as server:
        return asyncio.run(run(server))
