"""The explorer in a real browser: `latentsweep explore` in a subprocess, Debian's Chromium driven by Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.explorer_fixtures import sweep_results  # noqa: F401

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
START_SECONDS = 90


def require_chromium() -> None:
    """Skip without Chromium, except in CI, where a missing browser must fail the run."""
    if Path(CHROMIUM).exists() and shutil.which(CHROMIUM):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests (install Debian's chromium)")
    pytest.skip(f"{CHROMIUM} is missing")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def explorer_server(sweep_results, tmp_path):  # noqa: F811
    """`latentsweep explore RESULTS --port P` running in a subprocess; stopped (by its handle) afterwards."""
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    command = [sys.executable, "-m", "sweeps.cli", "explore", str(sweep_results), "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"the explorer did not listen on port {port} in {START_SECONDS} s"
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_selecting_a_trial_in_the_browser_shows_its_config(explorer_server):
    require_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 2700})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(explorer_server, timeout=60_000)
            rows = page.locator(".tabulator-row")
            rows.first.wait_for(timeout=60_000)
            assert rows.count() == 4
            assert rows.first.inner_text().startswith("trial_vae_00000")  # best best_loss first
            page.get_by_text("Select a trial in the table").first.wait_for()

            rows.filter(has_text="trial_cond_00001").click()
            page.get_by_text("trial_cond_00001 · TERMINATED").wait_for(timeout=60_000)
            summary = page.locator("table.ls-kv").first.inner_text()
            assert "conditional" in summary and "decoder_conditioning" in summary
            page.get_by_text("top: validation images").wait_for(timeout=30_000)  # the last view to fill
            page.wait_for_timeout(1_000)  # let the figures finish drawing before the picture is taken
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000
