"""The view in the URL: a link restores the sweep, trial, tab and latent view it names, a bad value falls back to the
default with a notice, and the URL follows the page. Panel's own Location object stands in for the browser's."""

import numpy as np
import pytest
from panel.io.location import Location

from explorer.app import ExplorerApp
from explorer.page.view_link import raw_query
from explorer.store import ResultsStore
from tests.helpers.sweeps import LATENT_DIM, SWEEP_NAME, find_trial

pytestmark = pytest.mark.slow  # the session fixture runs a real six-trial sweep


def linked_app(results, search: str) -> ExplorerApp:
    app = ExplorerApp(ResultsStore(results))
    app.link_to(Location(search=search))
    return app


def test_a_link_restores_trial_tab_and_latent_view(sweep_results):
    trial = find_trial(sweep_results, "vae", 1.0)
    z = [0.5, -1.25, *[0.0] * (LATENT_DIM - 2)]
    dims = list(range(LATENT_DIM))[::-1][:2]
    search = f"?sweep={SWEEP_NAME}&trial={trial}&tab=latent&dims={dims[0]},{dims[1]}&z=" + ",".join(map(str, z))
    app = linked_app(sweep_results, search)
    latent = app.latent_explorer.state
    assert app.state.trial_id == trial and app.tab_names[app.tabs.active] == "Latent space"
    assert latent.trial.path.name == trial and latent.dims == dims
    assert np.allclose(latent.current_z, z)
    assert not app.link.notice.visible and app.link.notices == []


def test_a_picked_sample_in_a_link_is_picked_again(sweep_results):
    trial = find_trial(sweep_results, "vae", 1.0)
    app = linked_app(sweep_results, f"?trial={trial}&tab=latent&sample=3&mode=pca")
    latent = app.latent_explorer.state
    assert latent.mode == "pca" and latent.current_row == 3
    assert np.allclose(latent.current_z, latent.mu[3])  # the sample's mean is the decoded point


def test_bad_values_fall_back_to_the_default_with_a_notice_each(sweep_results):
    trial = find_trial(sweep_results, "vae", 1.0)
    app = linked_app(sweep_results, f"?trial={trial}&tab=latent&dims=0,99&z=1,2,x&sample=-4&color=nope&mode=3d")
    latent = app.latent_explorer.state
    assert app.state.trial_id == trial and latent.trial.path.name == trial  # the good values still apply
    assert latent.mode == "latent" and len(latent.dims) >= 2 and max(latent.dims) < LATENT_DIM
    assert np.allclose(latent.current_z, 0) and latent.current_row is None
    refused = " ".join(app.link.notices)
    for shown in ("dims=0,99", "z=1,2,x", "sample=-4", "color=nope", "mode=3d"):
        assert shown in refused
    assert app.link.notice.visible and app.main()[0] is app.link.notice
    stale = linked_app(sweep_results, "?trial=gone_00042&tab=elsewhere&z=1")
    assert stale.state.trial_id is None and stale.tabs.active == 0
    assert len(stale.link.notices) == 3  # the trial, the tab, and latent values without a trial


def test_the_url_follows_the_page_and_reopens_the_same_view(sweep_results):
    app = linked_app(sweep_results, "")
    trial = find_trial(sweep_results, "conditional", 8.0)
    app.state.trial_id = trial
    app.open_tab("Latent space")
    latent = app.latent_explorer.state
    latent.go_to_row(5)
    latent.set_coordinate(0, 1.5)
    query = raw_query(app.link.location.search)
    assert query["trial"] == trial and query["tab"] == "latent" and query["sample"] == "5"
    assert float(query["z"].split(",")[0]) == 1.5
    again = linked_app(sweep_results, app.link.location.search)
    assert again.state.trial_id == trial and again.latent_explorer.state.current_row == 5
    assert np.allclose(again.latent_explorer.state.current_z, latent.current_z, atol=1e-3)
    assert again.link.notices == []


def test_the_compare_trial_is_in_the_url_and_a_link_restores_it(sweep_results):
    trial, other = find_trial(sweep_results, "vae", 1.0), find_trial(sweep_results, "vae", 8.0)
    app = linked_app(sweep_results, f"?trial={trial}&tab=latent")
    app.compare.trial.value = other
    assert raw_query(app.link.location.search)["compare"] == other
    again = linked_app(sweep_results, app.link.location.search)
    assert again.compare.trial.value == other and again.compare.state.trial.path.name == other
    assert again.link.notices == []
    itself = linked_app(sweep_results, f"?trial={trial}&tab=latent&compare={trial}")  # not a second trial
    assert itself.compare.trial.value == "(none)" and f"compare={trial}" in " ".join(itself.link.notices)


def test_the_sliders_range_is_in_the_url_and_a_bad_one_is_refused(sweep_results):
    trial = find_trial(sweep_results, "vae", 1.0)
    app = linked_app(sweep_results, f"?trial={trial}&tab=latent&range=class:2.5")
    latent = app.latent_explorer.state
    assert latent.range_kind == "class" and latent.range_k == 2.5 and app.link.notices == []
    latent.range_kind = "prior"
    assert raw_query(app.link.location.search)["range"] == "prior"  # the URL follows the page
    bad = linked_app(sweep_results, f"?trial={trial}&tab=latent&range=prior:3")
    assert bad.latent_explorer.state.range_kind == "embedding"  # the default
    assert any("range=prior:3" in notice for notice in bad.link.notices)
    too_wide = linked_app(sweep_results, f"?trial={trial}&tab=latent&range=class:99")
    assert too_wide.latent_explorer.state.range_kind == "embedding"
    assert any("from 0.1 to 10" in notice for notice in too_wide.link.notices)
