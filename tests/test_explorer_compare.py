"""Two trials side by side in the latent workbench, on the real tiny sweep: the second follows the first's
coordinates, selection and picked sample when they encode the same samples, and says why not when they do not."""

import dataclasses

import numpy as np
import pytest

from explorer.app import ExplorerApp
from explorer.latent.compare_view import NO_COMPARISON
from explorer.store import ResultsStore
from tests.helpers.sweeps import N_TRIALS, VALIDATION_SAMPLES, find_trial

pytestmark = pytest.mark.slow  # the session fixture runs a real six-trial sweep


@pytest.fixture
def app(sweep_results) -> ExplorerApp:
    app = ExplorerApp(ResultsStore(sweep_results))
    app.state.trial_id = find_trial(sweep_results, "vae", 1.0)
    app.open_tab("Latent space")
    return app


def test_a_compare_trial_shows_a_second_splom_and_decoded_image_that_follow_the_first(app, sweep_results):
    compare, first = app.compare, app.latent_explorer.state
    assert len(compare.trial.options) == N_TRIALS  # (none) and the five other trials
    assert app.state.trial_id not in compare.trial.options
    compare.trial.value = find_trial(sweep_results, "vae", 8.0)
    second = compare.state
    assert compare.body in compare.layout.objects
    assert compare.splom.image is not None and compare.decoded.image is not None  # two SPLOMs, two decoded images
    assert len(compare.rows[0]) == VALIDATION_SAMPLES and 0.0 <= compare.score <= 1.0
    assert "Neighbourhood preservation at k = 10" in compare.message.object
    assert second.dims == compare.matched_dims(list(first.dims))

    first.go_to_row(7)  # the same sample, decoded by both models
    assert second.latents["sample"].iloc[second.current_row] == first.latents["sample"].iloc[7]
    mask = np.zeros(len(first.mu), bool)
    mask[:30] = True
    first.selection = mask
    chosen = set(second.latents["sample"][second.selection])
    assert chosen == set(first.latents["sample"][:30])

    compare.trial.value = NO_COMPARISON
    assert compare.body not in compare.layout.objects


def test_trials_of_other_samples_are_shown_apart_with_what_differs(app, sweep_results, monkeypatch):
    compare, other = app.compare, find_trial(sweep_results, "branched", 1.0)
    loaded = compare.load(other)

    def other_samples(_trial_id):
        trial, latents = loaded
        return dataclasses.replace(trial, config=trial.config.replace(data_seed=99)), latents

    monkeypatch.setattr(compare, "load", other_samples)
    compare.trial.value = other
    assert compare.rows is None and compare.score is None and compare.match is None
    assert "encode different samples (data_seed: " in compare.message.object and "vs 99)" in compare.message.object
    app.latent_explorer.state.go_to_row(3)
    assert compare.state.current_row is None  # nothing carried over


def test_the_procrustes_overlay_draws_both_trials_in_the_first_ones_coordinates(app, sweep_results):
    compare = app.compare
    compare.trial.value = find_trial(sweep_results, "vae", 8.0)
    assert not compare.overlay_box.visible  # off until asked for
    compare.align.value = True
    assert compare.overlay_box.visible and compare.residual is not None and compare.residual >= 0.0
    first, second = compare.overlay.object.renderers  # the first trial's points, the second's rotated onto them
    assert len(first.data_source.data["x"]) == len(second.data_source.data["x"]) == len(compare.rows[0])
    expected = compare.primary.mu[compare.rows[0]][:, compare.primary.dims[0]]
    assert np.allclose(first.data_source.data["x"], expected)
    compare.trial.value = NO_COMPARISON
    assert not compare.overlay_box.visible
