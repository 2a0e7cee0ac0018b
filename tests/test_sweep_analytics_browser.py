"""Brushing the parallel coordinates in a real browser filters the trial table (the real tiny sweep, Chromium)."""

import pytest

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, is_problem, require_chromium
from tests.helpers.sweeps import N_TRIALS, trials_table

pytestmark = [pytest.mark.slow, pytest.mark.browser]
X_RANGE_START, Y_RANGE = -0.3, (-0.08, 1.08)  # the parallel plot's data ranges (parallel_view.py)


def test_brushing_an_axis_in_the_browser_changes_the_tables_row_count(explorer_server, sweep_results):
    require_chromium()
    from playwright.sync_api import sync_playwright

    table = trials_table(sweep_results)
    high_beta = int((table["beta"] == table["beta"].max()).sum())
    assert 0 < high_beta < N_TRIALS
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if is_problem(m) else None)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(explorer_server, timeout=60_000)
            rows = page.locator(".tabulator-row")
            rows.first.wait_for(timeout=60_000)
            assert rows.count() == N_TRIALS
            plot = page.locator(".ls-parallel canvas").first
            plot.scroll_into_view_if_needed()
            page.wait_for_timeout(1_000)
            _drag_over_the_top_of_an_axis(page, plot.bounding_box(), axis=1, axes=4)  # arch, beta, best_loss, mig
            page.get_by_text(f"{high_beta} of {N_TRIALS} trials shown").wait_for(timeout=30_000)
            assert rows.count() == high_beta
            page.get_by_role("button", name="Clear brushes").click()
            page.get_by_text(f"{N_TRIALS} of {N_TRIALS} trials pass the filters").wait_for(timeout=30_000)
            assert rows.count() == N_TRIALS
        finally:
            browser.close()
    assert problems == []


def _drag_over_the_top_of_an_axis(page, canvas: dict, axis: int, axes: int) -> None:
    """A box from 60% of the way up an axis to the plot's top edge, about a quarter of an axis gap wide.

    The plot's frame is the canvas less a toolbar on the right and the axis labels below (approximate insets: the
    box is wide and tall enough that a few pixels' error still covers the axis and only its upper part)."""
    left, width = canvas["x"] + 5, canvas["width"] - 45
    top, height = canvas["y"] + 5, canvas["height"] - 40
    x_end = axes - 0.4
    x = left + (axis - X_RANGE_START) / (x_end - X_RANGE_START) * width
    half = 0.25 / (x_end - X_RANGE_START) * width

    def y_of(value: float) -> float:
        return top + (Y_RANGE[1] - value) / (Y_RANGE[1] - Y_RANGE[0]) * height

    page.mouse.move(x - half, y_of(0.6))
    page.mouse.down()
    page.mouse.move(x + half, top + 2, steps=10)
    page.mouse.up()
