"""A real sweep on a local Ray: checkpoints, latents, trials.parquet, `best`, and reloading the best trial."""

import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from vaemodels import SCHEMA_VERSION

pytestmark = pytest.mark.slow

SWEEP_FLAGS = ["--preset", "quick", "--name", "tiny", "--dataset", "shapes", "--image-size", "32", "--n-samples", "600"]
SWEEP_FLAGS += ["--epochs", "2", "--num-samples", "4", "--latent-dims", "2,3", "--max-concurrent", "2"]
SWEEP_FLAGS += ["--dci-samples", "1000"]
LATENT_METRICS = ["active_units", "probe_accuracy", "mig", "gaussian_tc"]
LATENT_METRICS += ["dci_disentanglement", "dci_completeness", "dci_informativeness"]
CONTRACT_COLUMNS = {
    "trial_id", "status", "stopped_early", "diverged", "error", "arch", "net", "latent_dim", "beta", "recon", "lr",
    "batch_size", "epochs", "dataset", "image_size", "seed", "loss", "val_recon", "val_kl", "best_loss", "best_epoch",
    "epochs_trained", "val_kl_per_dim", "active_units", "probe_accuracy", "mig", "gaussian_tc", "node", "device",
    "checkpoint_path", "latents_path", "last_checkpoint_path",
}  # fmt: skip


@pytest.fixture(scope="module")
def console(ray_session, tmp_path_factory):
    """The sweep, run once for the module through the CLI, and what it printed (stdout and stderr)."""
    from vaemodels.cli import main

    storage = tmp_path_factory.mktemp("storage")
    printed = io.StringIO()
    mlflow = f"sqlite:///{storage / 'mlflow.db'}"  # a real MLflow store, read back below
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        assert main(["sweep", *SWEEP_FLAGS, "--storage", str(storage), "--mlflow", mlflow]) == 0
    return storage / "tiny", printed.getvalue()


@pytest.fixture(scope="module")
def sweep_dir(console):
    return console[0]


@pytest.fixture(scope="module")
def table(sweep_dir):
    return pd.read_parquet(sweep_dir / "trials.parquet")


def test_trials_table_has_one_row_a_trial_with_the_contract_columns(table):
    assert len(table) == 4 and table["trial_id"].is_unique
    assert set(table.columns) >= CONTRACT_COLUMNS
    assert (table["status"] == "TERMINATED").all() and not table["diverged"].any()
    assert list(table["best_loss"]) == sorted(table["best_loss"])  # best first
    assert set(table["latent_dim"]) <= {2, 3}


def test_every_best_checkpoint_is_self_contained(sweep_dir, table):
    for row in table.itertuples():
        checkpoint = sweep_dir / row.checkpoint_path
        for name in ("model.pt", "config.json", "history.json", "latents.parquet"):
            assert (checkpoint / name).exists(), (row.trial_id, name)
        assert row.latents_path == f"{row.checkpoint_path}/latents.parquet"  # relative to the sweep folder
        latents = pd.read_parquet(checkpoint / "latents.parquet")
        assert [c for c in latents.columns if c.startswith("mu_")] == [f"mu_{i}" for i in range(row.latent_dim)]
        assert json.loads((checkpoint / "config.json").read_text())["latent_dim"] == row.latent_dim


def test_best_loss_is_the_minimum_of_the_trials_history(sweep_dir, table):
    for row in table.itertuples():
        history = json.loads((sweep_dir / row.last_checkpoint_path / "history.json").read_text())
        assert [h["epoch"] for h in history] == [1, 2]
        assert row.best_loss == min(h["loss"] for h in history)
        assert row.best_epoch == min(history, key=lambda h: h["loss"])["epoch"]


def test_best_command_names_the_minimum_row(sweep_dir, table, capsys, tmp_path):
    from vaemodels.cli import main

    assert main(["best", str(sweep_dir), "--top", "3", "--export", str(tmp_path / "exported")]) == 0
    out = capsys.readouterr().out
    winner = table.loc[table["best_loss"].idxmin()]
    assert f"best trial {winner['trial_id']}" in out
    assert (tmp_path / "exported" / "model.pt").exists()


def test_best_rebuilds_a_missing_trials_table_in_memory_and_metrics_writes_it(sweep_dir, table, capsys):
    from vaemodels.cli import main

    (sweep_dir / "trials.parquet").rename(sweep_dir / "trials.parquet.bak")
    try:
        assert main(["best", str(sweep_dir)]) == 0
        assert not (sweep_dir / "trials.parquet").exists()  # best only reads the sweep folder
        assert main(["metrics", str(sweep_dir), "--only", "udr"]) == 0
        rebuilt = pd.read_parquet(sweep_dir / "trials.parquet")
        assert sorted(rebuilt["trial_id"]) == sorted(table["trial_id"])
        np.testing.assert_allclose(rebuilt.set_index("trial_id")["best_loss"], table.set_index("trial_id")["best_loss"])
    finally:
        (sweep_dir / "trials.parquet.bak").replace(sweep_dir / "trials.parquet")


def test_best_trial_reloads_and_reproduces_its_latents(sweep_dir, table):
    from vaemodels import TrialConfig, encode, load_dataset, load_trial
    from vaemodels.embeddings import mu_columns

    best = table.iloc[0]
    trial = load_trial(sweep_dir / best["trial_id"])
    assert trial.checkpoint.name == best["checkpoint_path"].split("/")[-1]
    stored = trial.latents()
    fresh = encode(trial.model, load_dataset(TrialConfig.from_dict(trial.config.to_dict())))
    columns = mu_columns(trial.config.model.latent_dim)
    np.testing.assert_allclose(fresh[columns].to_numpy(), stored[columns].to_numpy(), atol=1e-5)


def test_metadata_records_settings_and_versions(sweep_dir):
    from vaemodels.storage import resolve
    from vaemodels.trials_table import read_trials_table

    _, metadata = read_trials_table(resolve(sweep_dir))
    assert metadata["settings"]["preset"] == "quick" and metadata["metric"] == "loss"
    assert metadata["versions"]["ray"].startswith("2.") and metadata["schema_version"] == SCHEMA_VERSION


def test_every_trial_row_carries_finite_latent_metrics_from_its_best_checkpoint(sweep_dir, table):
    for row in table.itertuples():
        values = {name: getattr(row, name) for name in LATENT_METRICS}
        assert all(np.isfinite(v) for v in values.values()), (row.trial_id, values)
        assert 0 <= row.active_units <= row.latent_dim and 0 <= row.mig <= 1
        best = json.loads((sweep_dir / row.checkpoint_path / "history.json").read_text())[-1]
        assert row.mig == best["mig"]  # from the best checkpoint, not the last epoch
        dci = json.loads((sweep_dir / row.checkpoint_path / "dci.json").read_text())
        assert dci["samples"] == 1000 and dci["regressor"] == "random_forest"
        assert row.dci_disentanglement == dci["dci_disentanglement"]


def test_metadata_names_the_dci_regressor(sweep_dir):
    from vaemodels.storage import resolve
    from vaemodels.trials_table import read_trials_table

    assert read_trials_table(resolve(sweep_dir))[1]["dci_regressor"] == "random_forest"


def test_best_ranks_by_any_metric(sweep_dir, table, capsys):
    from vaemodels.cli import main

    assert main(["best", str(sweep_dir), "--metric", "mig", "--mode", "max"]) == 0
    winner = table.loc[table["mig"].idxmax()]
    assert f"best trial {winner['trial_id']} (mig = {winner['mig']:.4f})" in capsys.readouterr().out
    assert main(["best", str(sweep_dir), "--metric", "no_such_metric"]) == 2
    assert "'no_such_metric' is not a column" in capsys.readouterr().err


def test_metrics_command_recomputes_for_chosen_trials_and_caches(sweep_dir, table, capsys):
    from vaemodels.cli import main

    chosen = table.iloc[0]
    cache = sweep_dir / chosen["checkpoint_path"] / "dci.json"
    assert main(["metrics", str(sweep_dir), "--trials", chosen["trial_id"], "--dci-samples", "500"]) == 0
    assert json.loads(cache.read_text())["samples"] == 500  # other settings: computed again
    stamp = cache.stat().st_mtime_ns
    assert main(["metrics", str(sweep_dir), "--trials", chosen["trial_id"], "--dci-samples", "500"]) == 0
    assert cache.stat().st_mtime_ns == stamp  # same settings: served from the cache
    updated = pd.read_parquet(sweep_dir / "trials.parquet").set_index("trial_id")
    assert (
        updated.loc[chosen["trial_id"], "dci_disentanglement"] == json.loads(cache.read_text())["dci_disentanglement"]
    )
    assert main(["metrics", str(sweep_dir), "--trials", "nope"]) == 2
    assert "--trials nope: no such trial" in capsys.readouterr().err


def as_old_layout(sweep_dir) -> None:
    """Make a sweep folder look as the first release left it: no summary.json, schema 1, no trials.parquet."""
    for config in sweep_dir.glob("*/checkpoint_*/config.json"):
        (config.parent / "summary.json").unlink()
        config.write_text(json.dumps({**json.loads(config.read_text()), "schema_version": 1}))
    (sweep_dir / "trials.parquet").unlink()
    (sweep_dir / "sweep.yaml").unlink()  # the settings as that release stored them: sweep.json, flag by flag
    fixed = {"dataset": "shapes", "epochs": 2, "batch_size": 128, "embed_samples": 1000, "image_size": 32}
    old = {"preset": "quick", "name": "tiny", "archs": ["vae", "conditional", "branched"], "beta_range": [0.5, 8.0],
           "betas": [], "latent_dims": [2, 3], "seeds": [], "lr_range": [1e-4, 3e-3], "num_samples": 4,
           "scheduler": "none", "metric": "loss", "mode": "min", "seed": 0,
           "fixed": {**fixed, "n_samples": 600}}  # fmt: skip
    (sweep_dir / "sweep.json").write_text(json.dumps(old))


def test_a_sweep_of_the_old_layout_rebuilds_opens_in_the_explorer_and_resumes(sweep_dir, table, tmp_path, capsys):
    import shutil

    from explorer.store import ResultsStore
    from vaemodels.cli import main

    storage = tmp_path / "storage"
    shutil.copytree(sweep_dir, storage / "tiny")
    as_old_layout(storage / "tiny")
    store = ResultsStore(storage / "tiny")
    (name,) = store.sweeps()
    shown = store.trials(name).set_index("trial_id")
    assert sorted(shown.index) == sorted(table["trial_id"]) and (shown["status"] == "TERMINATED").all()
    winner = table.iloc[0]["trial_id"]
    assert len(store.latents(name, winner, ["mu_0"])) > 0 and store.trial(name, winner).config.model.latent_dim >= 2

    def histories(rows) -> dict:
        return {
            row.trial_id: json.loads((storage / "tiny" / row.last_checkpoint_path / "history.json").read_text())
            for row in rows.itertuples()
        }

    before = histories(table)
    capsys.readouterr()
    assert main(["sweep", *SWEEP_FLAGS, "--storage", str(storage)]) == 0  # the same command: a resume
    assert "resuming sweep" in capsys.readouterr().out
    resumed = pd.read_parquet(storage / "tiny" / "trials.parquet").set_index("trial_id")
    assert sorted(resumed.index) == sorted(table["trial_id"]) and (resumed["status"] == "TERMINATED").all()
    assert (resumed["epochs_trained"] == 2).all() and histories(resumed.reset_index()) == before  # not retrained
    np.testing.assert_allclose(resumed["best_loss"].sort_index(), table.set_index("trial_id")["best_loss"].sort_index())


def test_a_rerun_lists_the_damaged_trials_it_found(sweep_dir, table, tmp_path, capsys):
    import shutil

    from vaemodels.cli import main

    storage = tmp_path / "storage"
    shutil.copytree(sweep_dir, storage / "tiny")
    victim = table.iloc[1]
    model = storage / "tiny" / victim["checkpoint_path"] / "model.pt"
    model.write_bytes(model.read_bytes()[: len(model.read_bytes()) // 2])
    capsys.readouterr()
    assert main(["sweep", *SWEEP_FLAGS, "--storage", str(storage)]) == 0
    captured = capsys.readouterr()
    assert f"damaged trial {victim['trial_id']}: {model} is damaged" in captured.err
    assert f"{victim['trial_id']} is damaged" in captured.out  # and again in the summary
    rows = pd.read_parquet(storage / "tiny" / "trials.parquet").set_index("trial_id")
    assert str(model) in rows.loc[victim["trial_id"], "problem"] and rows["problem"].isna().sum() == len(rows) - 1


def test_status_reports_the_finished_sweep_from_its_table(sweep_dir, table, capsys):
    from vaemodels.cli import main

    assert main(["status", str(sweep_dir)]) == 0
    out = capsys.readouterr().out
    assert f"{len(table)} trials of 4 planned" in out and "finished 4 · running 0 · errored 0" in out
    best = table.sort_values("best_loss").iloc[0]
    assert f"best so far: {best['trial_id']}, best_loss {best['best_loss']:.4g}" in out
    assert (table["trial_seconds"] > 0).all() and "every planned trial has ended" in out


def test_the_console_is_a_line_a_trial_and_the_summary(console, table):
    _, printed = console
    lines = [line for line in printed.strip().split("\n") if "mlflow.store.db" not in line]  # its own setup
    assert len(lines) <= 40 and not any("│" in line or "╭" in line for line in lines), printed  # no Tune boxes
    for trial_id in table["trial_id"]:
        (line,) = [line for line in lines if line.startswith(f"{trial_id}  ")]
        assert "best_loss" in line and "(2 epochs in" in line
    assert f"sweep {console[0]}: 4 trials finished, 0 errored" in printed


def test_the_optuna_study_of_the_sweep_has_every_trial_with_its_params(sweep_dir, table, tmp_path):
    import optuna

    from vaemodels.cli import main

    assert main(["dashboard", str(sweep_dir), "--export", str(tmp_path / "study.db")]) == 0
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'study.db'}")
    by_id = {t.user_attrs["trial_id"]: t for t in study.trials}
    assert sorted(by_id) == sorted(table["trial_id"]) and all(t.state.name == "COMPLETE" for t in study.trials)
    for row in table.itertuples():
        trial = by_id[row.trial_id]
        assert trial.value == row.best_loss and trial.params["arch"] == row.arch
        assert trial.params["latent_dim"] == row.latent_dim and trial.params["beta"] == row.beta


def _events(folder) -> dict[tuple[str, str], list[int]]:
    """(tag, scalar or histo) -> the steps logged, from a trial folder's TensorBoard event file (TFRecord frames)."""
    import struct

    from tensorboardX.proto import event_pb2

    (path,) = folder.glob("events.out.tfevents*")
    data, position, logged = path.read_bytes(), 0, {}
    while position < len(data):
        (length,) = struct.unpack("<Q", data[position : position + 8])  # then a CRC of the length
        event = event_pb2.Event.FromString(data[position + 12 : position + 12 + length])
        position += 12 + length + 4  # the record, then its CRC
        for value in event.summary.value:
            logged.setdefault((value.tag, "histo" if value.HasField("histo") else "scalar"), []).append(event.step)
    return logged


def test_every_epochs_loss_terms_reach_tensorboard(sweep_dir, table):
    from vaemodels import ARCHITECTURES

    for row in table.itertuples():
        logged = _events(sweep_dir / row.trial_id)
        terms = ("recon", "kl", "total", *ARCHITECTURES[row.arch].loss_terms)
        for tag in ("loss", *(f"{split}_{term}" for split in ("train", "val") for term in terms)):
            assert logged[(f"ray/tune/{tag}", "scalar")] == [1, 2], (row.trial_id, tag)
        assert logged[("ray/tune/val_kl_per_dim", "histo")] == [1, 2]  # the KL of each dimension, every epoch


def test_mlflow_gets_a_run_a_trial_with_params_metrics_and_the_best_latents(sweep_dir, table):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{sweep_dir.parent / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")
    assert experiment.artifact_location.startswith((sweep_dir.parent / "mlflow-artifacts").as_uri())
    runs = {run.info.run_name.removeprefix("run_trial_"): run for run in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == sorted(table["trial_id"])
    for row in table.itertuples():
        run = runs[row.trial_id]
        assert run.info.status == "FINISHED" and run.data.params["arch"] == row.arch
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [1, 2]
        assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"config.json", "latents.parquet"}


def test_a_multi_objective_search_reports_both_objectives_every_epoch(ray_session, tmp_path, capsys):
    import optuna

    from vaemodels.cli import main

    flags = ["--name", "multi", "--dataset", "shapes", "--image-size", "32", "--n-samples", "400", "--epochs", "3"]
    flags += ["--num-samples", "2", "--latent-dims", "2", "--metrics", "loss,mig", "--modes", "min,max"]
    assert main(["sweep", *flags, "--dci-samples", "0", "--storage", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "multi" / "trials.parquet")
    assert len(table) == 2 and (table["status"] == "TERMINATED").all()
    for trial_id in table["trial_id"]:  # what Tune (and so Optuna) got from each epoch
        progress = pd.read_csv(tmp_path / "multi" / trial_id / "progress.csv")
        assert len(progress) == 3 and progress["loss"].notna().all() and progress["mig"].notna().all()
    assert main(["best", str(tmp_path / "multi"), "--pareto"]) == 0
    assert "Pareto front of" in capsys.readouterr().out
    assert main(["dashboard", str(tmp_path / "multi"), "--export", str(tmp_path / "s.db")]) == 0
    study = optuna.load_study(study_name="multi", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert len(study.directions) == 2 and all(len(t.values) == 2 for t in study.trials)


def test_a_sweep_file_runs_a_random_search_in_its_own_ranges_and_refuses_a_changed_file(ray_session, tmp_path, capsys):
    from vaemodels.cli import main

    path = tmp_path / "study.yaml"
    path.write_text(
        "name: from-file\nsearch: random\nnum_samples: 4\nparameters:\n  arch: {values: [vae, branched]}\n"
        "  beta: {min: 2, max: 3, distribution: log_uniform}\n  latent_dim: {values: [2]}\n"
        "  branched:\n    classifier_weight: {min: 0.5, max: 0.6}\n"
        "fixed: {dataset: shapes, image_size: 32, n_samples: 400, epochs: 1}\n"
    )
    command = ["sweep", "--config", str(path), "--num-samples", "3", "--dci-samples", "0", "--storage", str(tmp_path)]
    assert main(command) == 0
    table = pd.read_parquet(tmp_path / "from-file" / "trials.parquet")
    assert len(table) == 3 and (table["status"] == "TERMINATED").all()  # the flag over the file's 4
    assert table["beta"].between(2, 3).all() and set(table["latent_dim"]) == {2}
    branched = table[table["arch"] == "branched"]
    assert branched["classifier_weight"].between(0.5, 0.6).all() and branched["classifier_on"].notna().all()
    assert table.loc[table["arch"] == "vae", "classifier_weight"].isna().all()
    path.write_text(path.read_text().replace("max: 3,", "max: 4,"))
    capsys.readouterr()
    assert main(command) == 2
    assert "parameters.beta.max: stored 3.0, now 4.0" in capsys.readouterr().err


def test_every_finished_trial_has_its_scores_at_the_quick_setting_and_udr_columns(sweep_dir, table):
    from vaemodels import SCORE_KEYS
    from vaemodels.storage import resolve
    from vaemodels.trials_table import read_trials_table

    _, metadata = read_trials_table(resolve(sweep_dir))
    assert metadata["score_setting"] == "quick" and metadata["dci_regressor"] == "random_forest"
    assert metadata["versions"]["scikit-learn"]
    for row in table.to_dict("records"):
        oracle_scored = row["arch"] != "conditional"  # a conditional encoder reads the label: no oracle scores
        for name in SCORE_KEYS:
            if oracle_scored or name in ("sap", "modularity", "explicitness"):
                assert 0.0 <= row[name] <= 1.0, (row["trial_id"], name)
            else:
                assert pd.isna(row[name]), (row["trial_id"], name)
    assert "udr" in table.columns and (table["udr_pairs"] == 0).all()  # one seed a configuration: no pair


def test_every_trial_counts_its_attempts_for_the_rebuild(sweep_dir, table):
    for trial_id in table["trial_id"]:  # one attempt each: none failed, none was restarted
        assert json.loads((sweep_dir / trial_id / "attempt.json").read_text()) == {"attempt": 1}
