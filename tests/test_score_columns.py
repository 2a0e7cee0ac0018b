"""The scores as trials.parquet columns: after each trial (finish_trial), UDR over a sweep's seeds, and
`latentsweep metrics --only`. Tiny real trials at the quick setting; UDR on latents written by hand."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from vaemodels import SCORE_KEYS, SCORE_SETTINGS, UDR_KEYS
from vaemodels.finishing import finish_trial
from vaemodels.score_columns import SCORES_FILE, trial_scores
from vaemodels.storage import resolve
from vaemodels.table_rebuild import rebuild_trials_table
from vaemodels.trials_table import read_trials_table
from vaemodels.udr_columns import sweep_udr

# DCI and the classifiers on the 40 validation rows of these tiny trials: sklearn notes that classes are many.
pytestmark = pytest.mark.filterwarnings("ignore:The number of unique classes:UserWarning")


@pytest.fixture
def sweep(finished_trials, tmp_path):
    """A sweep folder holding a private copy of the session's finished `trial0` alone."""
    shutil.copytree(finished_trials / "trial0", tmp_path / "sweep" / "trial0")
    return tmp_path / "sweep"


def first_row(sweep) -> dict:
    return rebuild_trials_table(resolve(sweep)).iloc[0].to_dict()


def test_finish_trial_fills_every_score_at_the_quick_setting_and_caches_them(sweep):
    row = first_row(sweep)
    updates = finish_trial(resolve(sweep), row, 100, "random_forest", "quick")
    assert updates["finalized"] and "problem" not in updates
    for name in SCORE_KEYS:  # each a fraction or an accuracy: [0, 1] by definition
        assert 0.0 <= updates[name] <= 1.0, name
    cache = sweep / row["checkpoint_path"] / SCORES_FILE
    stored = json.loads(cache.read_text())
    assert stored["setting"] == "quick" and all(stored[name] == updates[name] for name in SCORE_KEYS)
    stamp = cache.stat().st_mtime_ns
    again, failures = trial_scores(resolve(sweep), row, "quick")
    assert again == {name: updates[name] for name in SCORE_KEYS} and not failures
    assert cache.stat().st_mtime_ns == stamp  # served from the cache
    summary = json.loads((sweep / row["last_checkpoint_path"] / "summary.json").read_text())
    assert summary["sap"] == updates["sap"]  # a rebuilt table keeps them


def test_a_dataset_without_factors_leaves_the_scores_null_and_an_unknown_setting_is_refused(sweep):
    row = {**first_row(sweep), "dataset": "mnist_5k"}
    assert trial_scores(resolve(sweep), row, "quick") == ({}, [])
    with pytest.raises(ValueError, match="score setting 'huge': choose one of reference, quick"):
        trial_scores(resolve(sweep), first_row(sweep), "huge")


def test_a_failing_score_is_null_with_a_warning_and_the_trial_keeps_its_other_metrics(sweep, monkeypatch):
    import vaemodels.scores

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(vaemodels.scores, "sap", broken)
    # The oracle scores are left out here (as for a conditional encoder): what is tested is that sap's failure
    # takes nothing else with it, and the oracle scores cost most of a trial's scoring time.
    monkeypatch.setattr("vaemodels.score_columns.trial_encoder", lambda sweep, row: (None, None))
    with pytest.warns(UserWarning, match="score sap: LinAlgError: singular"):
        updates = finish_trial(resolve(sweep), first_row(sweep), 100, "random_forest", "quick")
    assert updates["sap"] is None and updates["finalized"] and "problem" not in updates
    assert 0.0 <= updates["modularity"] <= 1.0 and 0.0 <= updates["dci_informativeness"] <= 1.0
    assert updates["beta_vae"] is None and updates["factor_vae"] is None


def test_damaged_latents_name_the_file_and_the_trial_is_not_finalized(sweep):
    row = first_row(sweep)
    latents = sweep / row["latents_path"]
    latents.write_bytes(latents.read_bytes()[:300])
    updates = finish_trial(resolve(sweep), row, 0, "random_forest", "quick")  # the scores alone read it
    assert updates["problem"].startswith(str(latents)) and "finalized" not in updates


# ---- UDR over a sweep


def write_latents(
    sweep, trial_id: str, samples: np.ndarray, codes: np.ndarray, logvar: np.ndarray | None = None
) -> str:
    path = sweep / trial_id / "checkpoint_000001" / "latents.parquet"
    path.parent.mkdir(parents=True)
    frame = pd.DataFrame({"sample": samples, **{f"mu_{i}": codes[:, i] for i in range(codes.shape[1])}})
    for i in range(0 if logvar is None else logvar.shape[1]):
        frame[f"logvar_{i}"] = logvar[:, i]
    frame.to_parquet(path)
    return f"{trial_id}/checkpoint_000001/latents.parquet"


def test_udr_groups_trials_by_configuration_and_scores_a_permuted_rescaled_code_one(tmp_path):
    # 25 samples on a 5 x 5 grid of two code values: the ranks of x and y are exactly uncorrelated, so between
    # (x, y) and (3y, -2x) |Spearman| is the permutation matrix [[0, 1], [1, 0]]. Duan et al.'s eq. 2 then gives
    # per column 1^2 / 1 and per row 1^2 / 1: UDR = (2 + 2) / (2 + 2) = 1, on one pair.
    x, y = (grid.ravel().astype(float) for grid in np.meshgrid(np.arange(5), np.arange(5)))
    samples = np.arange(100, 125)
    order = np.random.default_rng(0).permutation(25)  # the second trial stored its rows in another order
    rows = []
    for trial_id, seed, beta, codes, ids in (
        ("a0", 0, 1.0, np.column_stack([x, y]), samples),
        ("a1", 1, 1.0, np.column_stack([3 * y, -2 * x])[order], samples[order]),
        ("b0", 0, 4.0, np.column_stack([x, y]), samples),  # alone in its configuration
        ("c0", 0, 8.0, np.column_stack([x, y]), samples),
        ("c1", 1, 8.0, np.column_stack([x, y]), samples),  # its file damaged below
    ):
        path = write_latents(tmp_path, trial_id, ids, codes)
        rows.append({"trial_id": trial_id, "status": "TERMINATED", "seed": seed, "data_seed": 0, "beta": beta,
                     "arch": "vae", "latent_dim": 2, "latents_path": path, "problem": None})  # fmt: skip
    (tmp_path / rows[-1]["latents_path"]).write_bytes(b"not parquet")
    scored, problems = sweep_udr(resolve(tmp_path), pd.DataFrame(rows))
    scored = scored.set_index("trial_id")
    assert scored.loc["a0", "udr"] == pytest.approx(1.0) and scored.loc["a1", "udr"] == pytest.approx(1.0)
    assert list(scored["udr_pairs"]) == [1, 1, 0, 0, 0]
    assert scored.loc[["b0", "c0", "c1"], "udr"].isna().all()
    assert len(problems) == 1 and problems[0].startswith("c1: UDR skipped")


def test_udr_takes_the_informative_latents_from_the_stored_log_variances(tmp_path):
    # Both trials hold x in dim 0 and a dim whose mean stays 0.2 (no variance) with logvar 0: its KL is
    # (0.04 + 1 - 0 - 1) / 2 = 0.02 > 0.01, so it is informative (Duan et al.), and a constant correlates with
    # nothing: R = [[1, 0], [0, 0]]. Per column 1^2 / 1 and 0; per row the same: UDR = (1 + 0 + 1 + 0) / (2 + 2) = 1/2.
    # Without the log-variances the variance rule (Var > 0.01) drops the constant dims and gives 1.
    x = np.tile(np.arange(5.0), 5)
    codes = np.column_stack([x, np.full(25, 0.2)])
    rows = []
    for trial_id, seed in (("a0", 0), ("a1", 1)):
        path = write_latents(tmp_path, trial_id, np.arange(25), codes, logvar=np.zeros((25, 2)))
        rows.append({"trial_id": trial_id, "status": "TERMINATED", "seed": seed, "data_seed": 0, "beta": 1.0,
                     "arch": "vae", "latent_dim": 2, "latents_path": path, "problem": None})  # fmt: skip
    scored, problems = sweep_udr(resolve(tmp_path), pd.DataFrame(rows))
    assert problems == [] and scored["udr"].tolist() == pytest.approx([0.5, 0.5])


# ---- latentsweep metrics --only


def test_metrics_only_recomputes_the_named_scores_and_records_the_setting(sweep, cli):
    done = cli("metrics", str(sweep), "--only", "sap,modularity", "--scores", "quick")
    assert done.returncode == 0, done.stderr
    frame, metadata = read_trials_table(resolve(sweep))
    row = frame.set_index("trial_id").loc["trial0"]
    assert 0.0 <= row["sap"] <= 1.0 and 0.0 <= row["modularity"] <= 1.0
    assert frame[["beta_vae", "factor_vae", "dci_disentanglement"]].isna().all().all()  # not asked for
    assert metadata["score_setting"] == "quick" and metadata["score_counts"] == SCORE_SETTINGS["quick"]
    assert metadata["versions"]["scikit-learn"].count(".") >= 1
    cache = sweep / row["checkpoint_path"] / SCORES_FILE
    stamp = cache.stat().st_mtime_ns
    assert cli("metrics", str(sweep), "--only", "sap").returncode == 0
    assert cache.stat().st_mtime_ns != stamp  # --only computes again, whatever the cache holds


def test_metrics_only_udr_adds_its_columns_and_a_bad_name_is_one_line(sweep, cli):
    assert cli("metrics", str(sweep), "--only", "udr").returncode == 0
    frame, _ = read_trials_table(resolve(sweep))
    assert set(UDR_KEYS) <= set(frame.columns) and list(frame["udr_pairs"]) == [0]  # one seed: no pair
    bad = cli("metrics", str(sweep), "--only", "sap,mig2")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
    valid = "dci, mig, sap, modularity, explicitness, beta_vae, factor_vae, udr"
    assert f"--only 'sap,mig2': mig2; choose from {valid}" in bad.stderr


# ---- the sweep's setting


def test_the_study_preset_scores_at_reference_with_gradient_boosting_and_quick_with_the_forest():
    from sweeps.options import RunOptions
    from sweeps.settings import make_settings
    from sweeps.tuner import provenance

    full = make_settings("disentanglement-study")
    assert (full.scores, full.dci_regressor) == ("reference", "gradient_boosting")
    quick = make_settings("disentanglement-study", quick=True)
    assert (quick.scores, quick.dci_regressor) == ("quick", "random_forest")
    assert (make_settings("quick").scores, make_settings("quick").dci_regressor) == ("quick", "random_forest")
    metadata = provenance(full, RunOptions())
    assert metadata["score_setting"] == "reference" and metadata["dci_regressor"] == "gradient_boosting"
    assert metadata["score_counts"] == SCORE_SETTINGS["reference"] and metadata["versions"]["scikit-learn"]
    # dSprites has an oracle: the study's DCI is trained on 10,000 fresh points and tested on 5,000 others.
    assert metadata["score_protocol"]["dci"] == {"codes": "fresh", "seed": 0, "train_points": 10_000,
                                                 "test_points": 5_000, "regressor": "gradient_boosting"}  # fmt: skip
    assert metadata["score_protocol"]["udr"]["correlation"] == "lasso"
    assert provenance(quick, RunOptions())["score_protocol"]["dci"]["codes"] == "stored"
    document = full.to_document()
    assert (document["scores"], document["dci_regressor"]) == ("reference", "gradient_boosting")
    assert dataclasses.replace(full, preset="") != dataclasses.replace(quick, preset="")


def test_a_sweep_file_with_an_unknown_score_setting_names_its_line(tmp_path):
    from sweeps.settings import SettingsError, make_settings

    path = tmp_path / "sweep.yaml"
    path.write_text("name: s\nsearch: random\nscores: fast\n")
    with pytest.raises(SettingsError, match=r"sweep.yaml:3: scores: 'fast': choose from reference, quick"):
        make_settings(config=path)
    path.write_text("name: s\nsearch: random\ndci_regressor: svm\n")
    with pytest.raises(SettingsError, match=r"sweep.yaml:3: dci_regressor: 'svm': choose from random_forest"):
        make_settings(config=path)
