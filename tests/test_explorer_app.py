"""The explorer in a real browser: `latentsweep explore` in a subprocess, Debian's Chromium driven by Playwright."""

import contextlib
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.explorer_fixtures import N_TRIALS, find_trial, sweep_results, trials_table  # noqa: F401

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
VIEWPORT = {"width": 1500, "height": 2700}
WORKBENCH = {"width": 1600, "height": 1000}  # the screen the latent workbench must fit
START_SECONDS = 150  # the CLI waits up to 120 s for its first page
LATENT_MS = 120_000  # the first latent views of a fresh server may wait for its kernel warm-up


@contextlib.contextmanager
def chromium_page(url: str, viewport: dict = WORKBENCH):
    """A page of Debian's Chromium opened at `url`; the browser is closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=viewport)
            page.goto(url)
            yield page
        finally:
            browser.close()


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
    command = [sys.executable, "-m", "vaemodels.cli", "explore", str(sweep_results), "--port", str(port)]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=Path(__file__).parent.parent)
    try:
        deadline = time.monotonic() + START_SECONDS
        while "serving" not in (tmp_path / "server.log").read_text():  # printed once the page answers
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, f"the explorer printed no URL in {START_SECONDS} s"
            time.sleep(0.3)
        assert f"localhost:{port}/" in (tmp_path / "server.log").read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=60) as page:  # the URL works right away
            assert page.status == 200
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def painted_pixels(png: bytes) -> tuple[int, int]:
    """(pixels that are not white, pixels in a strong colour) of a screenshot."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    not_white = (rgb < 245).any(axis=-1)
    coloured = rgb.max(axis=-1) - rgb.min(axis=-1) > 60  # the classes' colours, not the greys of frames and bars
    return int(not_white.sum()), int(coloured.sum())


def drag_across(page, slider) -> None:
    """Drag a noUiSlider's handle to the far end of its track, in steps (as a person does)."""
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle").first.bounding_box()
    track = slider.locator(".noUi-base").first.bounding_box()
    y = handle["y"] + handle["height"] / 2
    start = handle["x"] + handle["width"] / 2
    end = track["x"] + (0.05 if start > track["x"] + track["width"] / 2 else 0.95) * track["width"]
    page.mouse.move(start, y)
    page.mouse.down()
    page.mouse.move(end, y, steps=12)
    page.mouse.up()


def wait_for_change(locator, attribute: str, before: str | None, timeout_s: float) -> str | None:
    """Poll an attribute (through shadow roots, as Playwright's locators do) until it differs from `before`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = locator.get_attribute(attribute)
        if now and now != before:
            return now
        time.sleep(0.2)
    return None


def show_whole_page(page) -> None:
    """Make the window as tall as the page: the template scrolls its main column itself, so a full-page screenshot
    would otherwise hold only what the window shows."""
    page.evaluate("document.getElementById('main').scrollTo(0, 0)")
    height = page.evaluate("document.getElementById('main').scrollHeight + document.getElementById('main').offsetTop")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": int(height) + 20})
    page.wait_for_timeout(1_500)  # let the figures draw at the new size before the pictures are taken


def test_selecting_a_trial_and_exploring_its_latent_space_in_the_browser(explorer_server, sweep_results):  # noqa: F811
    require_chromium()
    from playwright.sync_api import sync_playwright

    table, conditional = trials_table(sweep_results), find_trial(sweep_results, "conditional", 8.0)
    best = table.loc[table["best_loss"].idxmin(), "trial_id"]
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if _is_problem(m) else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
            page.goto(explorer_server, timeout=60_000)
            rows = page.locator(".tabulator-row")
            rows.first.wait_for(timeout=60_000)
            assert rows.count() == N_TRIALS
            assert rows.first.inner_text().startswith(best)  # best best_loss first
            page.locator(".bk-tab", has_text="Trial").first.click()
            page.get_by_text("Select a trial in the table").first.wait_for()

            rows.filter(has_text=conditional).click()
            page.get_by_text(f"{conditional} · TERMINATED").wait_for(timeout=60_000)
            summary = page.locator("table.ls-kv").first.inner_text()
            assert "conditional" in summary and "decoder_conditioning" in summary
            page.get_by_text("top: validation images").wait_for(timeout=30_000)

            page.locator(".bk-tab", has_text="Latent space").first.click()
            page.locator(".ls-trial", has_text=conditional).wait_for(timeout=LATENT_MS)
            _check_the_workbench_fits_one_screen(page)
            card = page.locator(".ls-explorer")
            _check_latent_views(page, card)
            _check_focus_hover(page)
            _check_a_switch_clears_the_picked_sample(page, rows.filter(has_text=best), best)
            show_whole_page(page)
            page.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
            card.screenshot(path=str(ARTIFACTS / "latent.png"))
        finally:
            browser.close()
    assert problems == []
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000 and (ARTIFACTS / "latent.png").stat().st_size > 10_000


def _check_the_workbench_fits_one_screen(page) -> None:
    """At 1600x1000 the SPLOM, the focus plot, the decoded image and the first slider are all on screen at once."""
    page.set_viewport_size(WORKBENCH)
    page.evaluate("document.getElementById('main').scrollTo(0, 0)")
    page.wait_for_timeout(1_500)  # the figures redraw at the new size
    for view in (".ls-splom", ".ls-focus", ".ls-decoded", ".ls-slider-top"):
        box = page.locator(view).first.bounding_box()
        inside = box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= WORKBENCH["width"]
        assert inside and box["y"] + box["height"] <= WORKBENCH["height"], f"{view} is not on the screen: {box}"
    page.screenshot(path=str(ARTIFACTS / "workbench.png"))
    page.set_viewport_size(VIEWPORT)


def _check_latent_views(page, card) -> None:
    """The SPLOM is drawn, the views fit the page, and dragging the highest-KL slider re-decodes the image."""
    splom = page.locator(".ls-splom")
    splom.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    not_white, coloured = painted_pixels(splom.screenshot())
    assert not_white > 5_000 and coloured > 30, (not_white, coloured)  # frames, histograms and coloured samples
    for view in (".ls-splom", ".ls-focus", ".ls-decoded", ".ls-slider-top"):
        box = page.locator(view).first.bounding_box()
        assert box["x"] + box["width"] <= VIEWPORT["width"], f"{view} overflows the page sideways: {box}"
    decoded = page.locator(".ls-decoded img").first
    before = decoded.get_attribute("src")
    drag_across(page, page.locator(".ls-slider-top").first)
    assert wait_for_change(decoded, "src", before, timeout_s=30) is not None, "the decoded image did not change"


TOOLTIP_TEXTS = """() => {
    const found = [];
    const walk = (root) => {
        for (const element of root.querySelectorAll("*")) {
            if (element.classList.contains("bk-Tooltip") && element.checkVisibility()) {
                const content = element.shadowRoot && element.shadowRoot.querySelector(".bk-tooltip-content");
                found.push(content ? content.innerText : "");
            }
            if (element.shadowRoot) walk(element.shadowRoot);
        }
    };
    walk(document);
    return found;
}"""  # Bokeh's tooltips live in shadow roots, their text in their own


def drawn_pixels(focus) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """The focus plot's pixels, from a screenshot: (masks near a drawn sample and in a dot's middle, frame box)."""
    rgb = np.asarray(Image.open(io.BytesIO(focus.screenshot())).convert("RGB")).astype(int)
    coloured = rgb.max(axis=-1) - rgb.min(axis=-1) > 60  # samples in their classes' colours (and the red marker)
    rows, cols = np.nonzero(coloured)
    frame = (rows.min(), rows.max(), cols.min(), cols.max())  # inside the plot's frame
    near = np.zeros_like(coloured)  # within 4 pixels of a drawn sample
    for dy in range(-4, 5):
        for dx in range(-4, 5):
            near |= np.roll(coloured, (dy, dx), axis=(0, 1))
    solid = np.ones_like(coloured)  # the middle of a drawn dot: most likely a sample's own pixel
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            solid &= np.roll(coloured, (dy, dx), axis=(0, 1))
    return near, solid, frame


def _check_focus_hover(page) -> None:
    """Hovering a drawn sample names it; hovering empty space between the samples shows no tooltip at all."""
    focus = page.locator(".ls-focus").first
    focus.scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    box = focus.bounding_box()
    near, solid, (top, bottom, left, right) = drawn_pixels(focus)
    rng = np.random.default_rng(0)

    def tooltips_at(mask: np.ndarray, count: int) -> list[list[str]]:
        inside = np.zeros_like(mask)
        inside[top : bottom + 1, left : right + 1] = True
        ys, xs = np.nonzero(mask & inside)
        found = []
        for i in rng.choice(len(ys), min(count, len(ys)), replace=False):
            page.mouse.move(box["x"] + xs[i] + 0.5, box["y"] + ys[i] + 0.5)
            page.wait_for_timeout(150)
            found.append(page.evaluate(TOOLTIP_TEXTS))
        return found

    empty = tooltips_at(~near, 8)
    assert len(empty) == 8 and all(found == [] for found in empty), empty  # not even "sample: -1"
    on_samples = [text for found in tooltips_at(solid, 30) for text in found]
    samples = [m.group(1) for text in on_samples if (m := re.search(r"sample\s*:?\s*(-?\d+)", text))]
    assert samples and "-1" not in samples, on_samples


def _check_a_switch_clears_the_picked_sample(page, row, trial_id: str) -> None:
    """Pick a sample in the focus plot, switch trials: the picked sample's images are the old trial's, so they go."""
    focus = page.locator(".ls-focus").first
    box = focus.bounding_box()
    page.mouse.click(box["x"] + 0.45 * box["width"], box["y"] + 0.5 * box["height"])
    page.locator(".ls-reconstruction img").first.wait_for(timeout=30_000)
    row.click()
    page.locator(".ls-trial", has_text=trial_id).wait_for(timeout=LATENT_MS)
    page.locator(".ls-reconstruction img").first.wait_for(state="detached", timeout=30_000)
    assert page.get_by_text("Click a point in the focus plot").first.is_visible()


def _is_problem(message) -> bool:
    """Console errors, and the deprecation warnings the page itself causes (Choices.js allowHTML)."""
    return message.type == "error" or (message.type == "warning" and "allowHTML" in message.text)
