"""The explorer in a real browser: `latentsweep explore` in a subprocess, Debian's Chromium driven by Playwright."""

import re

import numpy as np
import pytest

from tests.helpers.browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    LATENT_MS,
    VIEWPORT,
    WORKBENCH,
    drag_across,
    drawn_pixels,
    is_problem,
    painted_pixels,
    require_chromium,
    show_whole_page,
    wait_for_change,
)
from tests.helpers.sweeps import N_TRIALS, find_trial, trials_table

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_selecting_a_trial_and_exploring_its_latent_space_in_the_browser(explorer_server, sweep_results):
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
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if is_problem(m) else None)
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
