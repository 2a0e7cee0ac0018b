"""A link to a view, in Chromium: the URL's trial and decoded point come back after a reload; the selection
downloads as a file."""

import re
import urllib.parse

import pandas as pd
import pytest

from tests.helpers.browser import CHROMIUM, CHROMIUM_ARGS, LATENT_MS, require_chromium
from tests.helpers.sweeps import LATENT_DIM, VALIDATION_SAMPLES, find_trial

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_link_with_a_trial_and_slider_values_survives_a_reload(explorer_server, sweep_results):
    require_chromium()
    from playwright.sync_api import sync_playwright

    trial = find_trial(sweep_results, "vae", 1.0)
    z = ",".join(["1.5", "-1", *["0"] * (LATENT_DIM - 2)])
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.goto(f"{explorer_server}?trial={trial}&tab=latent", timeout=60_000)
            page.locator(".ls-trial", has_text=trial).wait_for(timeout=LATENT_MS)
            page.wait_for_timeout(1_500)
            at_origin = page.locator(".ls-decoded img").first.get_attribute("src")

            page.goto(f"{explorer_server}?trial={trial}&tab=latent&z={z}", timeout=60_000)
            page.locator(".ls-trial", has_text=trial).wait_for(timeout=LATENT_MS)
            page.wait_for_function("() => window.location.search.includes('z=')", timeout=30_000)
            page.wait_for_timeout(1_500)
            decoded = page.locator(".ls-decoded img").first.get_attribute("src")
            assert decoded != at_origin  # the link's z, not the default, is decoded
            query = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
            assert query["trial"] == [trial] and query["tab"] == ["latent"]
            assert [float(v) for v in query["z"][0].split(",")] == [float(v) for v in z.split(",")]

            page.reload(timeout=60_000)
            page.locator(".ls-trial", has_text=trial).wait_for(timeout=LATENT_MS)
            page.wait_for_timeout(1_500)
            assert page.locator(".ls-decoded img").first.get_attribute("src") == decoded  # the same point, decoded
            assert re.search(r"tab=latent", page.url)
            assert page.locator(".bk-tab.bk-active", has_text="Latent space").count() == 1

            page.locator(".bk-tab", has_text="Export").first.click()
            with page.expect_download(timeout=30_000) as download:  # nothing selected: every validation sample
                page.locator(".ls-export button", has_text="Selection (CSV)").click()
            exported = pd.read_csv(download.value.path())
            assert download.value.suggested_filename == f"{trial}_selection.csv" and len(exported) == VALIDATION_SAMPLES
            assert {"sample", "label", *(f"mu_{i}" for i in range(LATENT_DIM))} <= set(exported.columns)
        finally:
            browser.close()
    assert problems == []
