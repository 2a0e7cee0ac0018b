"""The latent workbench's tools in Chromium, on the real tiny sweep: a long session of box selections that keep
answering, the selection exported with its row count, a second trial compared side by side, an attribute vector,
the nearest samples and the hover thumbnail. Screenshots of each land in test-artifacts/."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from tests.helpers.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LATENT_MS,
    WORKBENCH,
    drawn_pixels,
    painted_pixels,
    require_chromium,
)
from tests.helpers.sweeps import VALIDATION_SAMPLES, find_trial

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SELECTED = re.compile(r"([\d,]+) of ([\d,]+) selected")
TOOLBAR_PX = 45  # the focus plot's toolbar, on its right
BOXES = 26  # more box selections than the ~25 after which one session once stopped answering


def test_box_selection_keeps_answering_through_a_long_session_and_exports(explorer_server, sweep_results):
    """Box selections between PCA round trips, trial switches, a table filter and window resizes all update the
    selection; the export then downloads exactly the selected rows."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    trial, other = find_trial(sweep_results, "conditional", 1.0), find_trial(sweep_results, "conditional", 8.0)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=WORKBENCH, accept_downloads=True)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            open_latent_tab(page, explorer_server, trial)
            counts = []
            for i in range(BOXES):
                if i == 6:
                    round_trip_through_pca(page)
                elif i == 10:
                    switch_trial(page, other)
                elif i == 14:
                    switch_trial(page, trial)
                elif i == 18:
                    page.set_viewport_size({"width": 1280, "height": 800})
                    page.wait_for_timeout(800)
                elif i == 20:
                    page.set_viewport_size(WORKBENCH)
                    page.wait_for_timeout(800)
                elif i == 22:
                    filter_the_table(page, "arch", "conditional", rows=2)
                share = 1.0 if i == BOXES - 1 else 0.2 + 0.8 * ((i * 7) % BOXES) / BOXES  # boxes of many widths
                counts.append(box_select(page, share, previous=counts))
            assert len(counts) == BOXES and all(0 <= n <= VALIDATION_SAMPLES for n in counts), counts
            assert counts[-1] > 0 and len(set(counts)) > 1, counts  # the widest box holds samples; widths tell

            page.locator(".bk-tab", has_text="Export").first.click()
            with page.expect_download(timeout=30_000) as download:
                page.locator(".ls-export button", has_text="Selection (CSV)").click()
            exported = pd.read_csv(download.value.path())
            assert len(exported) == counts[-1] and exported["sample"].is_unique
        finally:
            browser.close()
    assert problems == []


def test_compare_attribute_vector_neighbours_and_hover_in_the_browser(explorer_server, sweep_results):
    require_chromium()
    from playwright.sync_api import sync_playwright

    trial, other = find_trial(sweep_results, "conditional", 1.0), find_trial(sweep_results, "vae", 1.0)
    problems: list[str] = []
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=WORKBENCH)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            open_latent_tab(page, explorer_server, trial)

            hover_shows_the_original(page)
            pick_a_sample(page)
            page.locator(".bk-tab", has_text="Nearest samples").first.click()
            page.locator(".ls-neighbours img").first.wait_for(timeout=30_000)
            page.locator(".ls-explorer").screenshot(path=str(ARTIFACTS / "neighbours.png"))

            page.locator(".bk-tab", has_text="Attribute vector").first.click()
            page.locator("button", has_text="Use the class").click()
            strip = page.locator(".ls-attribute img").first
            strip.wait_for(timeout=30_000)
            assert painted_pixels(strip.screenshot())[0] > 500  # decoded sprites, not a blank strip
            page.locator(".ls-explorer").screenshot(path=str(ARTIFACTS / "attribute_vector.png"))

            page.locator("select").filter(has_text=other).select_option(other)
            page.locator(".ls-compare .ls-splom").wait_for(timeout=LATENT_MS)
            page.locator(".ls-compare .ls-decoded img").first.wait_for(timeout=30_000)
            # Two SPLOMs and two decoded images: the shown trial's and the compared one's.
            assert page.locator(".ls-splom").count() == 2 and page.locator(".ls-decoded img").count() == 2
            page.get_by_text("Neighbourhood preservation at k = 10").wait_for(timeout=30_000)
            page.locator(".ls-compare-controls input[type=checkbox]").check()  # the Procrustes overlay
            page.locator(".ls-procrustes canvas").first.wait_for(timeout=30_000)
            compared = page.locator(".ls-compare").first
            compared.scroll_into_view_if_needed()
            page.wait_for_timeout(800)
            assert painted_pixels(compared.screenshot())[0] > 5_000
            compared.screenshot(path=str(ARTIFACTS / "compare_overlay.png"))
        finally:
            browser.close()
    assert problems == []


def open_latent_tab(page, server: str, trial: str) -> None:
    page.goto(f"{server}?trial={trial}&tab=latent", timeout=60_000)
    page.locator(".ls-trial", has_text=trial).wait_for(timeout=LATENT_MS)
    use_box_select(page)


def use_box_select(page) -> None:
    """Make a drag on the focus plot draw a box (pan is the default); a click on an active tool would turn it off."""
    icon = page.locator(".ls-focus .bk-tool-icon-box-select").first
    if "bk-active" not in icon.evaluate("(icon) => icon.parentNode.host.className"):
        icon.click()
    page.wait_for_timeout(300)


def selection_text(page) -> str:
    return " ".join(page.locator(".ls-selection").get_by_text(re.compile("selected")).all_inner_texts())


def selected_count(page) -> int | None:
    found = SELECTED.search(selection_text(page))
    return int(found.group(1).replace(",", "")) if found else None


def box_select(page, share: float, previous: list[int]) -> int:
    """Clear, then drag a box over the focus plot from its left edge to past the drawn samples' `share` quantile
    in x (read off a screenshot, so that the box holds samples); -> the selected count the page then shows."""
    page.locator(".ls-explorer button", has_text="Clear").first.click()
    page.locator(".ls-selection", has_text="Nothing selected").first.wait_for(timeout=15_000)
    focus = page.locator(".ls-focus").first
    ys, xs = sample_pixels(focus)  # scrolls the plot into view first
    box = focus.bounding_box()
    assert len(xs), "no samples drawn on the focus plot"
    # From just outside the drawn samples' top left corner, inside the plot's frame (its ranges are padded).
    page.mouse.move(box["x"] + float(xs.min()) - 6, box["y"] + float(ys.min()) - 6)
    page.mouse.down()
    page.mouse.move(box["x"] + float(np.quantile(xs, share)) + 4, box["y"] + float(ys.max()) + 6, steps=8)
    page.mouse.up()
    try:
        page.locator(".ls-selection", has_text=SELECTED).first.wait_for(timeout=15_000)
    except Exception:  # the playwright timeout: say which box of the session stopped answering
        text = selection_text(page)
        page.screenshot(path=str(ARTIFACTS / "box_select_failed.png"))
        raise AssertionError(f"box {len(previous) + 1} of the session selected nothing: {text!r}") from None
    return selected_count(page)


def sample_pixels(focus) -> tuple[np.ndarray, np.ndarray]:
    """(ys, xs) of the focus plot's drawn samples: coloured dot middles, less the red marker of the current point
    and the toolbar's coloured logo."""
    _, solid, _ = drawn_pixels(focus)
    rgb = np.asarray(Image.open(io.BytesIO(focus.screenshot())).convert("RGB")).astype(int)
    red = (rgb[..., 0] > 150) & (rgb[..., 1] < 90) & (rgb[..., 2] < 90)
    solid &= ~red
    solid[:, solid.shape[1] - TOOLBAR_PX :] = False
    return np.nonzero(solid)


def round_trip_through_pca(page) -> None:
    page.locator("button", has_text="PCA").first.click()
    page.get_by_text("PCA of the means").first.wait_for(timeout=30_000)
    page.locator("button", has_text="Latent dimensions").first.click()
    page.get_by_text("Latent means by KL").first.wait_for(timeout=30_000)
    use_box_select(page)


def switch_trial(page, trial: str) -> None:
    page.locator(".tabulator-row", has_text=trial).first.click()
    page.locator(".ls-trial", has_text=trial).wait_for(timeout=LATENT_MS)
    page.get_by_text("Nothing selected").first.wait_for(timeout=30_000)  # the old trial's selection is gone
    use_box_select(page)


def filter_the_table(page, column: str, text: str, rows: int) -> None:
    """Type into a column's header filter, see the table keep `rows` rows, then empty the filter again."""
    box = page.locator(f'.tabulator-col[tabulator-field="{column}"] input').first
    shown = page.locator(".tabulator-row")
    before = shown.count()
    box.click()
    box.press_sequentially(text, delay=20)  # Tabulator filters on the keys typed
    box.press("Enter")
    for _ in range(100):
        if shown.count() == rows:
            break
        page.wait_for_timeout(150)
    assert shown.count() == rows, f"the {column} filter {text!r} left {shown.count()} rows, not {rows}"
    box.fill("")
    box.press("Enter")
    shown.nth(before - 1).wait_for(timeout=15_000)
    use_box_select(page)


def hover_shows_the_original(page) -> None:
    """Move over drawn samples on the focus plot until the thumbnail of a sample's original appears beside it."""
    focus = page.locator(".ls-focus").first
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    box = focus.bounding_box()
    _, solid, _ = drawn_pixels(focus)
    ys, xs = np.nonzero(solid)
    thumb = page.locator(".ls-hover-thumb")
    for i in np.random.default_rng(0).choice(len(ys), min(40, len(ys)), replace=False):
        page.mouse.move(box["x"] + xs[i] + 0.5, box["y"] + ys[i] + 0.5)
        page.wait_for_timeout(100)
        if thumb.count():
            break
    assert thumb.count() == 1, "no hover thumbnail over the focus plot's samples"
    assert re.fullmatch(r"\d+", thumb.first.get_attribute("data-sample"))
    assert "url(data:image/png;base64" in thumb.first.get_attribute("style")
    page.locator(".ls-explorer").screenshot(path=str(ARTIFACTS / "hover.png"))


def pick_a_sample(page) -> None:
    """Click the focus plot with the pan tool back on, so the click picks the nearest sample."""
    page.locator(".ls-focus .bk-tool-icon-pan").first.click()
    box = page.locator(".ls-focus").first.bounding_box()
    page.mouse.click(box["x"] + 0.45 * box["width"], box["y"] + 0.5 * box["height"])
    page.locator(".ls-reconstruction img").first.wait_for(timeout=30_000)
