"""The SPLOM in a real browser: its names and ticks are text the browser draws, not pixels of the composite image.

The latent workbench of one tiny trained trial is served in this process (Panel, on a free port) and opened in
Debian's Chromium with Playwright.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.browser import chromium_page, require_chromium
from tests.helpers.processes import free_port
from tests.helpers.trials import train_tiny_trial
from vaemodels.checkpoint import LoadedTrial

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@pytest.fixture(scope="module")
def eight_dim_trial(tmp_path_factory: pytest.TempPathFactory) -> LoadedTrial:
    """A beta-VAE with 8 latent dimensions on 32x32 shapes, trained for 1 epoch."""
    return train_tiny_trial(tmp_path_factory.mktemp("splom_browser") / "vae", arch="vae", latent_dim=8, epochs=1)


@pytest.fixture
def served_workbench(eight_dim_trial):
    """The latent workbench of the trial, served on a free local port; stopped afterwards."""
    import panel as pn

    from explorer.latent.workbench import LatentExplorer

    require_chromium()
    port = free_port()
    server = pn.serve(lambda: LatentExplorer(eight_dim_trial), port=port, threaded=True, show=False, start=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


def splom_texts(page) -> list[str]:
    """Every text element drawn in the SPLOM's figure (Bokeh's SVG output; Playwright looks into shadow roots)."""
    return [t.strip() for t in page.locator(".ls-splom svg text").all_text_contents() if t.strip()]


def test_the_splom_has_text_names_and_ticks_at_8_and_at_2_dimensions(served_workbench):
    with chromium_page(served_workbench) as page:
        page.locator(".ls-splom svg text", has_text="z7").first.wait_for(timeout=60_000)
        texts = splom_texts(page)
        names = {t for t in texts if t.startswith("z")}
        assert {f"z{i}" for i in range(8)} <= {n.split(" ")[0] for n in names}  # every dimension named
        assert any("KL" in n for n in names)  # rows carry their KL beside their name
        ticks = {t for t in texts if NUMBER.match(t)}
        assert len(ticks) >= 3, texts  # coordinate values as tick labels
        assert page.locator(".ls-splom svg image").count() >= 1  # the cells: one composite image

        page.get_by_role("button", name="PCA").click()  # two principal components: two cells a side
        page.locator(".ls-splom svg text", has_text="PC2").first.wait_for(timeout=30_000)
        texts = splom_texts(page)
        assert {"PC1", "PC2"} <= {t.split(" ")[0] for t in texts}
        assert not any(re.match(r"^z\d", t) for t in texts)  # the latent names are gone
        assert sum(bool(NUMBER.match(t)) for t in texts) >= 3
