"""The explorer's views without a browser: set what a click sets, check what the person would see."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import panel as pn
import pytest

from explorer.app import ExplorerApp, build_app
from explorer.cli import websocket_origins
from explorer.page.boxes import SELECT_A_TRIAL
from explorer.store import ResultsStore
from tests.helpers.sweeps import LATENT_DIM, N_TRIALS, SWEEP_NAME, find_trial, trials_table
from vaemodels.cli import build_parser
from vaemodels.storage import resolve
from vaemodels.trials_table import read_trials_table, write_trials_table

pytestmark = pytest.mark.slow  # the session fixture runs a real six-trial sweep (~30 s)


def make_app(results) -> ExplorerApp:
    return ExplorerApp(ResultsStore(results))


def select_row(app: ExplorerApp, trial_id: str) -> None:
    """What a click on the trial's row does: Tabulator reports the row's position in its value."""
    position = list(app.table.tabulator.value["trial_id"]).index(trial_id)
    app.table.tabulator.selection = [position]


def test_the_table_lists_every_trial_best_first_with_config_and_metrics(sweep_results):
    app = make_app(sweep_results)
    shown = app.table.tabulator.value
    assert sorted(shown["trial_id"]) == sorted(trials_table(sweep_results)["trial_id"])
    assert shown["best_loss"].is_monotonic_increasing
    assert list(shown.columns[:6]) == ["trial_id", "status", "arch", "latent_dim", "beta", "best_loss"]
    assert {"lr", "dataset", "seed", "val_kl", "mig", "active_units"} <= set(shown.columns)
    assert "checkpoint_path" not in shown.columns  # paths are the store's business
    assert app.table.tabulator.sorters == [{"field": "best_loss", "dir": "asc"}]
    assert f"{N_TRIALS} trials" in app.table.summary.object


def test_without_a_selection_every_trial_view_says_what_to_do(sweep_results):
    app = make_app(sweep_results)
    assert app.state.trial_id is None
    for view in (app.summary, app.curves, app.kl_bars, app.reconstructions):
        assert view.notice == (SELECT_A_TRIAL.format(what=view.what), "hint")
        assert view.shown_trial is None


def test_selecting_a_row_updates_config_curves_kl_and_reconstructions(sweep_results):
    app = make_app(sweep_results)
    branched = find_trial(sweep_results, "branched", 1.0)
    select_row(app, branched)
    assert app.state.trial_id == branched
    row = trials_table(sweep_results).set_index("trial_id").loc[branched]
    config = json.loads((sweep_results / SWEEP_NAME / row["checkpoint_path"] / "config.json").read_text())
    assert app.summary.config == {k: v for k, v in config.items() if k != "schema_version" and v is not None}
    history = json.loads((sweep_results / SWEEP_NAME / row["last_checkpoint_path"] / "history.json").read_text())
    best = min(history, key=lambda epoch: epoch["loss"])  # the best epoch: lowest loss
    assert app.summary.metrics["best_epoch"] == best["epoch"] and branched in app.summary.pane.object
    assert list(app.curves.history_frame["epoch"]) == [1, 2]
    assert app.curves.history_frame["val_recon"].tolist() == [h["val_recon"] for h in history]
    assert app.curves.terms == ["total", "recon", "kl", "classifier", "accuracy"]  # branched has all five
    kl = app.kl_bars.kl_frame
    assert sorted(kl["kl"], reverse=True) == list(kl["kl"])
    assert sorted(kl["kl"]) == sorted(best["val_kl_per_dim"])
    assert app.reconstructions.picture.shape[0] > app.reconstructions.picture.shape[1] / 12  # two rows of images
    for view in (app.summary, app.curves, app.kl_bars, app.reconstructions):
        assert view.shown_trial == branched and view.error is None

    select_row(app, find_trial(sweep_results, "vae", 8.0))
    assert app.summary.config["arch"] == "vae" and app.summary.config["beta"] == 8.0
    assert app.summary.config["latent_dim"] == LATENT_DIM and len(app.kl_bars.kl_frame) == LATENT_DIM
    assert app.curves.terms == ["total", "recon", "kl"]
    assert not app.curves.panes["classifier"].visible and app.curves.panes["kl"].visible


def test_clicking_a_point_in_the_overview_selects_its_row(sweep_results):
    app = make_app(sweep_results)
    overview = app.overview
    assert (overview.hyperparameter, overview.metric) == ("beta", "best_loss")
    conditional = find_trial(sweep_results, "conditional", 8.0)
    position = list(overview.frame["trial_id"]).index(conditional)
    overview.tap.event(index=[position])
    assert app.state.trial_id == conditional
    (row,) = app.table.tabulator.selection
    assert app.table.tabulator.value["trial_id"].iloc[row] == conditional
    assert app.summary.config["arch"] == "conditional"
    assert set(overview.param.hyperparameter.objects) == {"arch", "beta"}  # what varies; latent_dim is 4 throughout


def test_a_damaged_trial_shows_its_error_and_the_others_keep_working(results_copy):
    sweep = results_copy / SWEEP_NAME
    store = ResultsStore(results_copy)
    conditional, vae8 = find_trial(results_copy, "conditional", 8.0), find_trial(results_copy, "vae", 8.0)
    (sweep / store.row(SWEEP_NAME, conditional)["latents_path"]).write_bytes(b"\x00garbage")
    (sweep / store.row(SWEEP_NAME, vae8)["checkpoint_path"] / "model.pt").unlink()
    app = ExplorerApp(store)
    app.open_tab("Latent space")  # the latent views follow the selection too, and fail in their own tab

    select_row(app, conditional)
    assert "latents.parquet cannot be read" in app.reconstructions.error
    assert app.kl_bars.error is None and "active dimensions unknown" in app.kl_bars.notice[0]
    assert app.summary.error is None and app.curves.error is None
    assert "latents.parquet cannot be read" in app.latent_error.objects[0].object

    select_row(app, vae8)
    assert "model.pt is missing" in app.reconstructions.error
    assert app.summary.config["beta"] == 8.0 and app.curves.shown_trial == vae8
    assert "model.pt is missing" in app.latent_error.objects[0].object

    vae1 = find_trial(results_copy, "vae", 1.0)
    select_row(app, vae1)
    for view in (app.summary, app.curves, app.kl_bars, app.reconstructions):
        assert view.error is None and view.shown_trial == vae1
    assert app.latent_error.objects == [] and app.latent_explorer.state.trial.path.name == vae1


def test_a_new_trial_appears_after_a_refresh_and_the_selection_stays(results_copy):
    app = make_app(results_copy)
    vae8 = find_trial(results_copy, "vae", 8.0)
    select_row(app, vae8)
    sweep = resolve(results_copy / SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    new_row = frame.iloc[[0]].assign(trial_id="trial_new_00004", best_loss=1.0, status="RUNNING")
    write_trials_table(sweep, pd.concat([frame, new_row], ignore_index=True), metadata)
    app.refresh()
    shown = app.table.tabulator.value
    assert shown["trial_id"].iloc[0] == "trial_new_00004" and len(shown) == N_TRIALS + 1
    assert "trial_new_00004" in set(app.overview.frame["trial_id"])
    assert app.state.trial_id == vae8
    assert shown["trial_id"].iloc[app.table.tabulator.selection[0]] == vae8


def test_range_filters_hide_trials_outside_the_range(sweep_results):
    app = make_app(sweep_results)
    beta = app.table.range_filters["beta"]
    assert (beta.start, beta.end) == (1.0, 8.0)
    beta.value = (4.0, 8.0)
    table = trials_table(sweep_results)
    assert sorted(app.table.tabulator.current_view["trial_id"]) == sorted(table.loc[table["beta"] == 8.0, "trial_id"])
    app.table.refresh(force=True)  # as when a running sweep rewrites trials.parquet: the narrowed range stays
    assert beta.value == (4.0, 8.0) and len(app.table.tabulator.current_view) == 3
    beta.value = (1.0, 8.0)
    assert len(app.table.tabulator.current_view) == N_TRIALS


def test_the_tables_header_and_range_filters_drive_the_overview_and_the_trial_count(sweep_results):
    app = make_app(sweep_results)
    table = trials_table(sweep_results)
    conditional = sorted(table.loc[table["arch"] == "conditional", "trial_id"])
    app.table.tabulator.filters = [{"field": "arch", "type": "like", "value": "conditional"}]  # typed in a header
    assert sorted(app.state.shown_trials) == conditional
    assert sorted(app.overview.frame["trial_id"]) == conditional
    assert f"{len(conditional)} of {N_TRIALS} trials shown" in app.table.summary.object
    app.table.range_filters["beta"].value = (4.0, 8.0)  # both filters together
    both = sorted(table.loc[(table["arch"] == "conditional") & (table["beta"] == 8.0), "trial_id"])
    assert sorted(app.overview.frame["trial_id"]) == both and f"{len(both)} of {N_TRIALS}" in app.table.summary.object
    app.table.tabulator.filters = []
    app.table.range_filters["beta"].value = (1.0, 8.0)
    assert app.state.shown_trials is None and len(app.overview.frame) == N_TRIALS
    assert f"{N_TRIALS} trials</b>" in app.table.summary.object


def test_several_sweeps_get_a_chooser(results_copy):
    os.symlink(results_copy / SWEEP_NAME, results_copy / "sweepB")
    app = make_app(results_copy)
    assert app.chooser.select.visible and app.chooser.select.options == [SWEEP_NAME, "sweepB"]
    select_row(app, find_trial(results_copy, "vae", 1.0))
    app.chooser.select.value = "sweepB"
    assert app.state.sweep == "sweepB" and app.state.trial_id is None
    assert app.summary.shown_trial is None
    select_row(app, find_trial(results_copy, "vae", 8.0))
    assert app.summary.config["beta"] == 8.0
    assert not make_app(results_copy / SWEEP_NAME).chooser.select.visible


def test_a_parent_folder_holding_one_sweep_names_that_sweep(sweep_results):
    for results in (sweep_results, sweep_results / SWEEP_NAME):  # the parent folder, and the sweep folder itself
        chooser = make_app(results).chooser
        assert not chooser.select.visible and chooser.sweep_name.visible and SWEEP_NAME in chooser.sweep_name.object


def test_missing_results_give_a_page_that_says_which_command_makes_them(tmp_path):
    page = build_app(str(tmp_path / "no-results"))
    text = " ".join(str(pane.object) for pane in pn.Column(*page.main).select(pn.pane.HTML))
    assert "no-results does not exist" in text
    assert "latentsweep sweep" in text and "latentsweep train" in text


def test_the_explore_command_is_registered_and_binds_locally(tmp_path):
    args = build_parser().parse_args(["explore", str(tmp_path), "--port", "5011"])
    assert args.handler.__module__ == "explorer.cli" and args.host == "127.0.0.1" and args.port == 5011
    assert websocket_origins("127.0.0.1", 5011) == ["127.0.0.1:5011", "localhost:5011"]
    for every_interface in ("0.0.0.0", "::", ""):  # never "*": any page a visitor opened could drive the explorer
        origins = websocket_origins(every_interface, 80, ["proxy.example.org", "tunnel.example.org:8443"])
        assert "*" not in origins and {"localhost:80", "127.0.0.1:80", f"{socket.gethostname()}:80"} <= set(origins)
        assert {"proxy.example.org:80", "tunnel.example.org:8443"} <= set(origins)
    assert websocket_origins("10.1.2.3", 5006) == ["10.1.2.3:5006", "localhost:5006", "127.0.0.1:5006"]


def test_explore_with_a_bad_path_exits_2_with_one_line_naming_it_before_serving(tmp_path):
    missing = tmp_path / "no-results"
    command = [sys.executable, "-m", "vaemodels.cli", "explore", str(missing), "--port", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert done.returncode == 2 and done.stdout == ""  # nothing served, no "serving ..." line
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("latentsweep explore: ") and str(missing) in lines[0], done.stderr


def test_the_latent_tab_draws_the_selected_trial_once_opened_and_tab_and_trial_survive_each_other(sweep_results):
    app = make_app(sweep_results)
    latent = app.latent_explorer
    assert app.tab_names == ["Sweep", "Trial", "Latent space"] and app.tabs.active == 0
    assert app.main()[0].title == "Trials" and app.main()[1] is app.tabs  # the table stays above every tab
    vae = find_trial(sweep_results, "vae", 1.0)
    select_row(app, vae)
    assert latent.state.trial is None  # not shown: a switch costs the latent views nothing
    app.open_tab("Latent space")
    assert latent.state.trial.path.name == vae and vae in latent.heading.object
    assert latent.splom.image is not None and latent.focus.image is not None and latent.decoded.image is not None
    assert not latent.layout.loading
    conditional = find_trial(sweep_results, "conditional", 8.0)
    select_row(app, conditional)  # open: the views follow the table, and the tab stays
    assert app.tabs.active == 2 and latent.state.trial.path.name == conditional and latent.decoded.label.visible
    assert len(latent.sliders.sliders) == LATENT_DIM
    app.open_tab("Trial")
    assert app.state.trial_id == conditional and app.summary.shown_trial == conditional  # the trial stays
    select_row(app, vae)
    assert latent.state.trial.path.name == conditional  # hidden again: left as it was until reopened
    app.open_tab("Latent space")
    assert latent.state.trial.path.name == vae


def test_a_burst_of_requests_runs_the_running_one_and_the_latest_only(monkeypatch):
    from explorer.page import scheduling

    monkeypatch.setattr(scheduling, "_served", lambda doc: True)  # as in a served page: work goes to a worker thread
    started, release, finished = threading.Event(), threading.Event(), []

    def work(request: str, is_stale) -> None:
        if request == "A":
            started.set()
            release.wait(10)
        finished.append((request, is_stale()))

    job = scheduling.LatestJob(work)
    job.submit("A")
    assert started.wait(10)
    job.submit("B")  # picked while A is drawn ...
    job.submit("C")  # ... and replaced before it started
    assert job.busy
    release.set()
    deadline = time.monotonic() + 10
    while job.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert finished == [("A", True), ("C", False)]  # A learns it is stale; B is never drawn
