"""The explorer served in this process and driven by Chromium, for benchmarks/explorer_speed.py.

A periodic callback every 20 ms on the server's event loop records the gaps between its calls: the longest gap is the
longest time the loop was held, i.e. how long a click of any session would have waited.
`sessions` serves with `latentsweep explore` in a subprocess instead, and opens many sessions at once.
"""

from __future__ import annotations

import asyncio
import os
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
    """`latentsweep explore RESULTS` in a subprocess (its own memory, as a person runs it); RSS read from /proc.
    `bare=True` serves benchmarks/bare_page.py instead: the same template and trial table, nothing else."""

    def __init__(self, results: Path, log_path: Path, bare: bool = False) -> None:
        self.results, self.log_path, self.bare = results, log_path, bare

    def __enter__(self) -> ExploreProcess:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        repo = Path(__file__).resolve().parent.parent
        if self.bare:
            command = [sys.executable, str(repo / "benchmarks" / "bare_page.py"), str(self.results), str(self.port)]
        else:
            command = [sys.executable, "-m", "vaemodels.cli", "explore", str(self.results), "--port", str(self.port)]
        self.log = self.log_path.open("w")
        env = {**os.environ, "PYTHONPATH": str(repo)}
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, cwd=repo, env=env)
        deadline = time.monotonic() + START_SECONDS
        while "serving" not in self.log_path.read_text():  # printed once the page answers
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[1]} did not start:\n{self.log_path.read_text()[-3000:]}")
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


async def _open_sessions(browser, url: str, count: int, latent: bool = True) -> tuple[list[float], list]:
    """Open `count` pages at once (a browser context each); seconds from the start until each shows a table row.
    Once every page shows one, each picks the first trial and opens its latent space, as a person would (not
    timed: eight people do not all click in the same second, and the sessions' memory is what it is for)."""
    contexts = [await browser.new_context(viewport=WORKBENCH) for _ in range(count)]
    start = time.perf_counter()

    async def shown(context) -> tuple[float, object]:
        page = await context.new_page()
        await page.goto(url, timeout=120_000)
        await page.locator(".tabulator-row").first.wait_for(timeout=300_000)
        return time.perf_counter() - start, page

    async def open_latent(page) -> None:
        rows = page.locator(".tabulator-row")
        trial_id = (await rows.first.inner_text()).split()[0]
        await rows.first.dispatch_event("click")  # a plain click may land on the tabs, which overlap a tall row
        await page.locator(".bk-tab", has_text="Latent space").first.click()
        await page.locator(".ls-trial", has_text=trial_id).wait_for(timeout=300_000)

    opened = await asyncio.gather(*(shown(context) for context in contexts))
    if latent:
        await asyncio.gather(*(open_latent(page) for _, page in opened))
    return [seconds for seconds, _ in opened], contexts


async def _first_rows(browser, url: str, concurrent: int, latent: bool) -> tuple[list[float], list[float]]:
    """One new session at a time (the first warms the browser and the server: not counted), then `concurrent` at
    once: seconds to the first table row of each."""
    firsts = []
    for _ in range(4):
        times, contexts = await _open_sessions(browser, url, 1, latent)
        firsts.append(times[0])
        for context in contexts:
            await context.close()
    times, contexts = await _open_sessions(browser, url, concurrent, latent=False)
    for context in contexts:
        await context.close()
    return firsts[1:], times


def sessions(results: Path, chromium: str, log_path: Path, settle_s: float, concurrent: int = 8) -> dict[str, float]:
    """New sessions of the explorer and, in the same run, of the bare page (the floor): first table row of one new
    session (median of 3 after one has warmed the server), of `concurrent` sessions at once. Then the explorer's
    memory in two rounds: RSS before `concurrent` sessions that each open the same trial's latent space, while they
    are open, and `settle_s` after they close. The first round also warms what is made once per process (allocator
    arenas for the new threads, lazily built kernels); the second shows what each further round keeps."""
    from playwright.async_api import async_playwright

    async def run(server: ExploreProcess, bare: ExploreProcess) -> dict[str, float]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            firsts, times = await _first_rows(browser, server.url, concurrent, latent=True)
            bare_firsts, bare_times = await _first_rows(browser, bare.url, concurrent, latent=False)
            rounds = []
            for _ in range(2):
                await asyncio.sleep(settle_s)
                before = server.rss_mb()
                _, contexts = await _open_sessions(browser, server.url, concurrent)
                during = server.rss_mb()
                for context in contexts:
                    await context.close()
                await asyncio.sleep(settle_s)
                rounds.append((before, during, server.rss_mb()))
            await browser.close()
        measured = {
            "first render": statistics.median(firsts),
            "first render best": min(firsts),
            "sessions all": max(times),
            "sessions first": min(times),
            "bare first render": statistics.median(bare_firsts),
            "bare sessions all": max(bare_times),
        }
        for number, (before, during, after) in enumerate(rounds, 1):
            measured.update({f"rss before {number}": before, f"rss during {number}": during})
            measured[f"rss after {number}"] = after
        return measured

    bare = ExploreProcess(results, log_path.with_suffix(".bare"), bare=True)
    with ExploreProcess(results, log_path) as served, bare:
        return asyncio.run(run(served, bare))
