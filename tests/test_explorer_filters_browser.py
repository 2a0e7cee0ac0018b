"""Legibility in a real browser: the sidebar's range filters show values like an lr of 0.000155 whole, with no spinner
arrows drawn over their digits, and each filter's label whole; every card's collapse arrow is painted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.helpers.browser import chromium_page, require_chromium
from tests.helpers.processes import free_port
from tests.helpers.sweeps import SWEEP_NAME, copy_results
from vaemodels.storage import resolve
from vaemodels.trials_table import read_trials_table, write_trials_table

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LEARNING_RATES = (0.000155, 0.00052, 0.002076, 0.0011, 0.0003, 0.0007)  # six digits after the point: the widest

CLIPPED = """(element) => element.scrollWidth > element.clientWidth + 1"""
# From a filter's first value box to its label (the Div before it in Panel's row): is the label's text clipped?
LABEL_CLIPPED = """(box) => {
  let label = box.getRootNode().host.previousElementSibling;
  while (label && !label.classList.contains('bk-Div')) label = label.previousElementSibling;
  const text = Array.from(label.shadowRoot.querySelectorAll('div')).filter(n => n.textContent.trim());
  const clipped = (n) => n.scrollWidth > n.clientWidth + 1;
  return text.length === 0 || text.some(clipped) || clipped(label);
}"""
SHOWN = """(element) => getComputedStyle(element).display !== 'none' && element.getBoundingClientRect().width > 0"""


@pytest.fixture(scope="module")
def served_explorer(sweep_results, tmp_path_factory):
    """The explorer on a copy of the sweep whose trials have small, many-digit learning rates; stopped afterwards."""
    import panel as pn

    from explorer.app import build_app

    require_chromium()
    results = copy_results(sweep_results, tmp_path_factory.mktemp("filters") / "results")
    sweep = resolve(results / SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    frame["lr"] = list(LEARNING_RATES[: len(frame)])
    write_trials_table(sweep, frame, metadata)
    port = free_port()
    server = pn.serve(lambda: build_app(str(results)), port=port, threaded=True, show=False, start=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


def test_range_filter_values_and_labels_are_not_clipped(served_explorer):
    with chromium_page(served_explorer) as page:
        boxes = page.locator(".slider-edit input")
        boxes.first.wait_for(timeout=60_000)
        page.wait_for_timeout(1_000)
        values = [boxes.nth(i).input_value() for i in range(boxes.count())]
        assert f"{min(LEARNING_RATES):.6f}" in values and f"{max(LEARNING_RATES):.6f}" in values  # lr's filter
        for i in range(boxes.count()):
            assert not boxes.nth(i).evaluate(CLIPPED), f"value box {values[i]!r} is clipped"
        arrows = page.locator(".slider-edit .bk-spin-btn")
        assert not any(arrows.nth(i).evaluate(SHOWN) for i in range(arrows.count()))
        for i in range(0, boxes.count(), 2):  # each filter's label beside its first value box
            assert not boxes.nth(i).evaluate(LABEL_CLIPPED), f"the label of the filter at {values[i]!r} is clipped"


def test_every_cards_collapse_arrow_is_painted(served_explorer):
    """The chevron left of each card's title is drawn, and collapses the card when clicked."""
    with chromium_page(served_explorer) as page:
        page.locator(".tabulator-row").first.wait_for(timeout=60_000)
        arrows = page.locator(".card-button")
        arrows.nth(1).wait_for(timeout=60_000)  # the trial table's, and the Sweep tab's cards once filled
        for i in range(arrows.count()):
            if not arrows.nth(i).is_visible():
                continue
            pixels = np.asarray(Image.open(io.BytesIO(arrows.nth(i).screenshot())).convert("L"))
            assert (pixels < 128).sum() >= 6, f"card arrow {i} is not painted"  # a 12 px chevron of dark strokes
        trials = page.locator(".ls-trials").first
        trials.locator(".card-button").first.click()
        page.locator(".tabulator-row").first.wait_for(state="hidden", timeout=10_000)  # the card collapsed
