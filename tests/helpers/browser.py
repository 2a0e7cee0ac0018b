"""Debian's Chromium driven by Playwright, and reading what a page shows (pixels, attributes, console problems)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
VIEWPORT = {"width": 1500, "height": 2700}
WORKBENCH = {"width": 1600, "height": 1000}  # the screen the latent workbench must fit
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


def is_problem(message) -> bool:
    """Console errors, and the deprecation warnings the page itself causes (Choices.js allowHTML)."""
    return message.type == "error" or (message.type == "warning" and "allowHTML" in message.text)


def painted_pixels(png: bytes) -> tuple[int, int]:
    """(pixels that are not white, pixels in a strong colour) of a screenshot."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    not_white = (rgb < 245).any(axis=-1)
    coloured = rgb.max(axis=-1) - rgb.min(axis=-1) > 60  # the classes' colours, not the greys of frames and bars
    return int(not_white.sum()), int(coloured.sum())


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
