"""The workbench's downloads: the selection as CSV or Parquet (ids, label, factors, means), z as JSON."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from explorer.latent.export_view import ExportView, point_json, selection_bytes, selection_frame
from explorer.latent.state import LatentState
from vaemodels import mu_columns
from vaemodels.checkpoint import LoadedTrial

pytestmark = pytest.mark.slow  # a model trained in a fixture


@pytest.fixture
def trial(tiny_vae) -> LoadedTrial:
    """The session's tiny beta-VAE (4 dimensions, 160 validation samples)."""
    return tiny_vae


@pytest.fixture
def state(trial) -> LatentState:
    state = LatentState()
    state.set_trial(trial, trial.latents())
    return state


def test_without_a_selection_every_sample_is_exported_with_its_factors_and_means(state):
    frame = selection_frame(state)
    assert len(frame) == len(state.mu) == 160
    assert list(frame.columns) == ["sample", "label", *state.factor_names, *mu_columns(4)]
    assert state.factor_names  # shapes has ground-truth factors
    assert np.allclose(frame[mu_columns(4)].to_numpy(), state.mu)


def test_the_selection_exports_its_rows_in_both_formats(state):
    mask = np.zeros(len(state.mu), bool)
    mask[[3, 10, 11]] = True
    state.selection = mask
    from_csv = pd.read_csv(io.BytesIO(selection_bytes(state, "csv")))
    from_parquet = pd.read_parquet(io.BytesIO(selection_bytes(state, "parquet")))
    expected = state.latents["sample"].to_numpy()[[3, 10, 11]]
    assert list(from_csv["sample"]) == list(from_parquet["sample"]) == list(expected)
    assert np.allclose(from_parquet[mu_columns(4)].to_numpy(), state.mu[[3, 10, 11]])


def test_z_is_exported_with_the_sample_it_came_from(state):
    state.go_to_row(7)
    state.set_coordinate(1, 0.75)
    point = json.loads(point_json(state))
    assert point["trial"] == state.trial.path.name and point["sample_row"] == 7
    assert point["sample"] == int(state.latents["sample"].iloc[7])
    assert point["z"][1] == 0.75 and len(point["z"]) == 4 and point["label"] is None


def test_the_buttons_name_their_files_after_the_trial(state, trial):
    view = ExportView(state)
    state.set_trial(trial, trial.latents())
    assert view.csv.filename == f"{trial.path.name}_selection.csv" and view.point.filename.endswith("_z.json")
    assert len(pd.read_csv(view.csv.callback())) == 160
