"""ResultsStore on a real (tiny) sweep folder: listing, reading, caching, refusing, and surviving damaged trials."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

from explorer.page.cache import ByteLRU
from explorer.store import ResultsError, ResultsStore, TrialUnavailable
from tests.helpers.sweeps import (
    ARCHS,
    BETAS,
    LATENT_DIM,
    N_TRIALS,
    SWEEP_NAME,
    VALIDATION_SAMPLES,
    find_trial,
    trials_table,
)
from vaemodels.checkpoint import load_trial
from vaemodels.datasets import DatasetUnavailable, load_dataset
from vaemodels.storage import resolve
from vaemodels.trials_table import read_trials_table, write_trials_table

pytestmark = pytest.mark.slow  # the session fixture runs a real six-trial sweep (~30 s)


def test_lists_every_trial_best_loss_first(sweep_results):
    store = ResultsStore(sweep_results)
    assert store.sweeps() == [SWEEP_NAME]
    frame = store.trials(SWEEP_NAME)
    assert sorted(frame["trial_id"]) == sorted(trials_table(sweep_results)["trial_id"]) and len(frame) == N_TRIALS
    assert set(zip(frame["arch"], frame["beta"])) == {(arch, beta) for arch in ARCHS for beta in BETAS}  # the grid
    assert frame["best_loss"].is_monotonic_increasing
    assert {"arch", "beta", "latent_dim", "status", "best_loss", "mig"} <= set(frame.columns)
    assert store.trials(SWEEP_NAME) is frame  # unchanged file: not read again


def test_reads_only_the_latent_columns_asked_for_and_caches_them(sweep_results):
    store, conditional = ResultsStore(sweep_results), find_trial(sweep_results, "conditional", 8.0)
    latents = store.latents(SWEEP_NAME, conditional, ["sample", "mu_0", "mu_2"])
    assert list(latents.columns) == ["sample", "mu_0", "mu_2"]
    assert len(latents) == VALIDATION_SAMPLES
    assert store.latents(SWEEP_NAME, conditional, ["sample", "mu_0", "mu_2"]) is latents
    with pytest.raises(TrialUnavailable, match="no column mu_9"):
        store.latents(SWEEP_NAME, conditional, ["mu_9"])


def test_rebuilds_the_decoder_of_the_best_checkpoint(sweep_results):
    store, branched = ResultsStore(sweep_results), find_trial(sweep_results, "branched", 1.0)
    trial = store.trial(SWEEP_NAME, branched)
    reference = load_trial(sweep_results / SWEEP_NAME / branched)
    assert trial.config == reference.config and trial.checkpoint.name == reference.checkpoint.name
    z = torch.zeros(2, LATENT_DIM)
    torch.testing.assert_close(trial.model.decode_image(z), reference.model.decode_image(z))
    assert store.trial(SWEEP_NAME, branched) is trial  # cached


def test_reconstructions_sit_beside_their_originals(sweep_results):
    store, vae = ResultsStore(sweep_results), find_trial(sweep_results, "vae", 1.0)
    result = store.reconstructions(SWEEP_NAME, vae, count=5)
    assert result.decoded.shape == result.originals.shape == (5, 1, 32, 32)
    assert result.originals_error is None
    trial = store.trial(SWEEP_NAME, vae)
    data = load_dataset(trial.config)
    expected = data.images[torch.as_tensor(result.sample_ids)].numpy()  # shapes: sample id = row in the dataset
    np.testing.assert_allclose(result.originals, expected)
    assert result.decoded.min() >= 0 and result.decoded.max() <= 1


def test_reconstructions_without_the_dataset_still_decode(sweep_results, monkeypatch):
    def unavailable(*args, **kwargs):
        raise DatasetUnavailable("dataset 'mnist' needs its IDX files in /nowhere")

    monkeypatch.setattr("explorer.store.load_samples", unavailable)
    result = ResultsStore(sweep_results).reconstructions(SWEEP_NAME, find_trial(sweep_results, "vae", 8.0), count=4)
    assert result.originals is None
    assert "IDX files in /nowhere" in result.originals_error
    assert result.decoded.shape == (4, 1, 32, 32)


def test_damaged_trials_fail_alone_with_the_file_named(results_copy):
    sweep = results_copy / SWEEP_NAME
    store = ResultsStore(results_copy)
    conditional, vae8 = find_trial(results_copy, "conditional", 8.0), find_trial(results_copy, "vae", 8.0)
    (sweep / store.row(SWEEP_NAME, conditional)["latents_path"]).write_bytes(b"not parquet at all")
    (sweep / store.row(SWEEP_NAME, vae8)["checkpoint_path"] / "model.pt").unlink()

    with pytest.raises(TrialUnavailable, match=rf"{conditional}/checkpoint_\d+/latents.parquet cannot be read"):
        store.latents(SWEEP_NAME, conditional, ["mu_0"])
    with pytest.raises(TrialUnavailable, match=rf"{vae8}/checkpoint_\d+/model.pt is missing"):
        store.trial(SWEEP_NAME, vae8)
    assert store.trial(SWEEP_NAME, find_trial(results_copy, "vae", 1.0)).config.model.latent_dim == LATENT_DIM
    assert len(store.latents(SWEEP_NAME, find_trial(results_copy, "branched", 1.0), ["mu_0"])) == VALIDATION_SAMPLES
    assert store.history(SWEEP_NAME, vae8)[-1]["epoch"] == 2  # its other files still read


def test_trial_paths_outside_results_are_refused(results_copy, tmp_path):
    sweep = resolve(results_copy / SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    outside = tmp_path / "elsewhere"
    (outside / "checkpoint_000001").mkdir(parents=True)
    (outside / "checkpoint_000001" / "history.json").write_text("[]")
    (results_copy / SWEEP_NAME / "link_out").symlink_to(outside)
    frame.loc[0, "checkpoint_path"] = "../../elsewhere/checkpoint_000001"
    frame.loc[1, "latents_path"] = str(outside / "latents.parquet")
    frame.loc[2, "last_checkpoint_path"] = "link_out/checkpoint_000001"
    write_trials_table(sweep, frame, metadata)
    store = ResultsStore(results_copy)
    ids = list(store.trials(SWEEP_NAME)["trial_id"])
    with pytest.raises(TrialUnavailable, match=r"leaves the sweep folder \(\.\.\): not followed"):
        store.trial(SWEEP_NAME, ids[0])  # refused as the table is read
    with pytest.raises(TrialUnavailable, match="is absolute: not followed"):
        store.latents(SWEEP_NAME, ids[1])
    with pytest.raises(TrialUnavailable, match="points outside the results folder"):
        store.history(SWEEP_NAME, ids[2])
    assert store.trial(SWEEP_NAME, ids[3]).config.model.arch == store.row(SWEEP_NAME, ids[3])["arch"]


def test_a_new_row_in_trials_parquet_appears(results_copy):
    sweep = resolve(results_copy / SWEEP_NAME)
    store = ResultsStore(results_copy)
    before = store.trials(SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    new_row = frame.iloc[[0]].assign(trial_id="trial_new_00004", best_loss=1.0, status="RUNNING")
    write_trials_table(sweep, pd.concat([frame, new_row], ignore_index=True), metadata)
    after = store.trials(SWEEP_NAME)
    assert "trial_new_00004" not in set(before["trial_id"])
    assert after["trial_id"].iloc[0] == "trial_new_00004"  # the lowest best_loss comes first
    assert len(after) == N_TRIALS + 1


def test_missing_or_empty_results_say_how_to_make_some(tmp_path):
    for results in (tmp_path / "nothing-here", tmp_path):
        with pytest.raises(ResultsError) as error:
            ResultsStore(results).sweeps()
        assert str(results) in str(error.value)
        assert "latentsweep sweep" in str(error.value) and "latentsweep train" in str(error.value)


def test_a_damaged_trials_parquet_is_rebuilt_from_the_trial_folders(results_copy, caplog):
    written = pd.read_parquet(results_copy / SWEEP_NAME / "trials.parquet").set_index("trial_id")
    (results_copy / SWEEP_NAME / "trials.parquet").write_text("half-written")
    rebuilt = ResultsStore(results_copy).trials(SWEEP_NAME).set_index("trial_id")
    assert sorted(rebuilt.index) == sorted(written.index) and (rebuilt["status"] == "TERMINATED").all()
    pd.testing.assert_series_equal(rebuilt["best_loss"].sort_index(), written["best_loss"].sort_index())
    assert "trials.parquet is not a Parquet table" in caplog.text


def test_results_may_be_a_train_folder_or_a_folder_of_sweeps(results_copy):
    vae = find_trial(results_copy, "vae", 1.0)
    single = ResultsStore(results_copy / SWEEP_NAME / vae)  # one trial folder of the sweep, as a train folder
    (name,) = single.sweeps()
    assert list(single.trials(name)["trial_id"]) == [vae]
    assert single.trial(name, vae).config.model.latent_dim == LATENT_DIM
    assert len(single.latents(name, vae, ["mu_1"])) == VALIDATION_SAMPLES
    os.symlink(results_copy / SWEEP_NAME, results_copy / "sweepB")  # a second sweep (links inside RESULTS are fine)
    several = ResultsStore(results_copy)
    assert several.sweeps() == [SWEEP_NAME, "sweepB"]
    assert several.trial("sweepB", find_trial(results_copy, "conditional", 1.0)).config.model.arch == "conditional"


def test_a_uri_reads_like_a_path(sweep_results):
    store = ResultsStore(sweep_results.as_uri())  # file:///...: the pyarrow filesystem route that s3:// and gs:// take
    vae8 = find_trial(sweep_results, "vae", 8.0)
    assert store.sweeps() == [SWEEP_NAME]
    assert store.trial(SWEEP_NAME, vae8).config.model.beta == 8.0
    assert list(store.latents(SWEEP_NAME, vae8, ["mu_0"]).columns) == ["mu_0"]
    last = store.row(SWEEP_NAME, vae8)["last_checkpoint_path"]  # relative to the sweep folder
    history = json.loads((sweep_results / SWEEP_NAME / last / "history.json").read_text())
    assert store.history(SWEEP_NAME, vae8) == history and history[-1]["epoch"] == 2


def test_the_cache_keeps_the_most_recent_values_within_its_byte_budget():
    cache = ByteLRU(max_bytes=100, max_items=10)
    for key in "abc":
        cache.get_or_create(key, lambda k=key: k.upper(), lambda _: 40)
    assert "a" not in cache and "b" in cache and "c" in cache  # 3 x 40 > 100: the oldest went
    cache.get_or_create("b", lambda: "never called", lambda _: 40)  # b is now the most recent
    cache.get_or_create("d", lambda: "D", lambda _: 40)
    assert "c" not in cache and "b" in cache and cache.total_bytes == 80
    cache.put("huge", "x", 1_000)  # larger than the whole budget: not kept, nothing else lost
    assert "huge" not in cache and len(cache) == 2
