"""Nearest samples and attribute vectors in the workbench, on a tiny trained shapes trial (no browser)."""

import json

import numpy as np
import pytest

from explorer.compare.neighbours import nearest_samples
from explorer.images import GAP
from explorer.latent.attribute_view import PROJECTION_COLUMN, SET_BOTH
from explorer.latent.neighbours_view import PICK_FIRST
from explorer.latent.workbench import LatentExplorer
from tests.helpers.trials import train_tiny_trial
from vaemodels.checkpoint import LoadedTrial

pytestmark = pytest.mark.slow  # a model trained in a fixture


@pytest.fixture
def trial(tiny_vae) -> LoadedTrial:
    """The session's tiny beta-VAE (4 dimensions, 160 validation samples)."""
    return tiny_vae


def test_the_picked_samples_nearest_samples_are_shown_nearest_first(trial):
    explorer = LatentExplorer(trial)
    view, state = explorer.neighbours, explorer.state
    assert view.message.object == PICK_FIRST and view.pane.object is None
    state.go_to_row(5)
    rows, _ = nearest_samples(state.mu, 5, 8)
    assert list(view.rows) == list(rows) and 5 not in view.rows
    assert f"sample {state.latents['sample'].iloc[int(rows[0])]}" in view.message.object
    view.k.value = 3
    assert len(view.rows) == 3
    state.set_trial(trial, trial.latents())  # another trial (here the same again): nothing picked, nothing shown
    assert view.pane.object is None and view.message.object == PICK_FIRST


def test_a_class_against_the_rest_gives_the_centroid_difference_and_a_strip(trial):
    explorer = LatentExplorer(trial)
    view, state = explorer.attribute, explorer.state
    assert view.label.options == sorted(int(c) for c in np.unique(state.labels))
    view.set_class(0)
    towards, away, mu = state.labels == 0, state.labels != 0, state.mu.astype(np.float64)
    assert np.allclose(view.vector, mu[towards].mean(0) - mu[away].mean(0))
    steps, size = view.steps.value, trial.config.data.image_size
    assert view.strip.shape[:2] == (size, steps * size + (steps - 1) * GAP)  # one row of `steps` decoded images
    assert "the current point" in view.message.object
    state.go_to_row(2)  # the strip now runs through the picked sample
    assert f"sample {state.latents['sample'].iloc[2]}" in view.message.object
    exported = json.loads(view.vector_json())
    assert exported["towards"] == "class 0" and np.allclose(exported["vector"], view.vector)


def test_two_selections_define_it_and_samples_colour_by_their_projection(trial):
    explorer = LatentExplorer(trial)
    view, state = explorer.attribute, explorer.state
    view.set_from_selection("towards")
    assert view.message.object.startswith("Select some samples first")
    first, second = np.zeros(len(state.mu), bool), np.zeros(len(state.mu), bool)
    first[:40], second[40:100] = True, True
    state.selection = first
    view.set_from_selection("towards")
    state.selection = second
    view.set_from_selection("away")
    mu = state.mu.astype(np.float64)
    assert np.allclose(view.vector, mu[:40].mean(0) - mu[40:100].mean(0))
    view.colour_by_projection()
    assert state.color_by == PROJECTION_COLUMN and PROJECTION_COLUMN in state.colour_options
    assert state.colouring.continuous
    expected = mu @ view.vector / np.linalg.norm(view.vector)
    assert np.allclose(state.latents[PROJECTION_COLUMN], expected)
    state.set_trial(trial, trial.latents())
    assert view.vector is None and view.message.object == SET_BOTH  # a new trial's space: the direction is gone


@pytest.fixture(scope="module")
def positioned(tmp_path_factory: pytest.TempPathFactory) -> LoadedTrial:
    # Long enough (8 epochs of 1,600 training images, about 6 s) for the decoder to place the sprite by pos_x.
    return train_tiny_trial(tmp_path_factory.mktemp("pos_x") / "vae", arch="vae", epochs=8, n_samples=2000)


def test_a_vector_from_left_to_right_sprites_moves_the_decoded_sprite_rightwards(positioned):
    explorer = LatentExplorer(positioned)
    view, state = explorer.attribute, explorer.state
    pos_x = state.latents["pos_x"].to_numpy()
    state.selection = pos_x >= np.median(pos_x)  # the right half of the sprites
    view.set_from_selection("towards")
    state.selection = pos_x < np.median(pos_x)  # the left half
    view.set_from_selection("away")
    size, steps = positioned.config.data.image_size, view.steps.value
    for row in (0, 1, 2):
        state.go_to_row(row)  # the strip runs through this sample, from -1 to +1 times the vector
        tiles = [view.strip[:, i * (size + GAP) : i * (size + GAP) + size] for i in range(steps)]
        columns = np.stack([t.astype(np.float64).reshape(size, size, -1).sum(axis=(0, 2)) for t in tiles])  # (steps, W)
        centroid_x = columns @ np.arange(size) / columns.sum(axis=1)  # the sprite's brightness-weighted x
        assert np.all(np.diff(centroid_x) > 0), f"sample row {row}: centroids {np.round(centroid_x, 2)}"
