"""The explorer's views without a browser: set what a click sets, check what the person would see."""

import json
import os

import pandas as pd
import panel as pn
import pytest

from explorer.app import ExplorerApp, build_app
from explorer.cli import websocket_origins
from explorer.panes import SELECT_A_TRIAL
from explorer.store import ResultsStore
from sweeps.cli import build_parser
from sweeps.results import read_trials_table, write_trials_table
from sweeps.storage import resolve
from tests.explorer_fixtures import SWEEP_NAME, TRIALS, copy_results, sweep_results  # noqa: F401

pytestmark = pytest.mark.slow  # the session fixture trains four tiny models (~15 s)


@pytest.fixture
def results_copy(sweep_results, tmp_path):  # noqa: F811
    return copy_results(sweep_results, tmp_path / "results")


def make_app(results) -> ExplorerApp:
    return ExplorerApp(ResultsStore(results))


def select_row(app: ExplorerApp, trial_id: str) -> None:
    """What a click on the trial's row does: Tabulator reports the row's position in its value."""
    position = list(app.table.tabulator.value["trial_id"]).index(trial_id)
    app.table.tabulator.selection = [position]


def test_the_table_lists_every_trial_best_first_with_config_and_metrics(sweep_results):  # noqa: F811
    app = make_app(sweep_results)
    shown = app.table.tabulator.value
    assert sorted(shown["trial_id"]) == sorted(TRIALS)
    assert shown["best_loss"].is_monotonic_increasing
    assert list(shown.columns[:6]) == ["trial_id", "status", "arch", "latent_dim", "beta", "best_loss"]
    assert {"lr", "dataset", "seed", "val_kl", "mig", "active_units"} <= set(shown.columns)
    assert "checkpoint_path" not in shown.columns  # paths are the store's business
    assert app.table.tabulator.sorters == [{"field": "best_loss", "dir": "asc"}]
    assert "4 trials" in app.table.summary.object


def test_without_a_selection_every_trial_view_says_what_to_do(sweep_results):  # noqa: F811
    app = make_app(sweep_results)
    assert app.state.trial_id is None
    for view in (app.summary, app.curves, app.kl_bars, app.reconstructions):
        assert view.notice == (SELECT_A_TRIAL.format(what=view.what), "hint")
        assert view.shown_trial is None


def test_selecting_a_row_updates_config_curves_kl_and_reconstructions(sweep_results):  # noqa: F811
    app = make_app(sweep_results)
    select_row(app, "trial_branch_00002")
    assert app.state.trial_id == "trial_branch_00002"
    checkpoint = sweep_results / SWEEP_NAME / "trial_branch_00002" / "checkpoint_000001"
    config = json.loads((checkpoint / "config.json").read_text())
    assert app.summary.config == {k: v for k, v in config.items() if k != "schema_version" and v is not None}
    assert app.summary.metrics["best_epoch"] == 2 and "trial_branch_00002" in app.summary.pane.object
    history = json.loads((checkpoint / "history.json").read_text())
    assert list(app.curves.history_frame["epoch"]) == [1, 2]
    assert app.curves.history_frame["val_recon"].tolist() == [h["val_recon"] for h in history]
    assert app.curves.terms == ["total", "recon", "kl", "classifier", "accuracy"]  # branched has all five
    kl = app.kl_bars.kl_frame
    assert sorted(kl["kl"], reverse=True) == list(kl["kl"])
    assert sorted(kl["kl"]) == sorted(history[-1]["val_kl_per_dim"])
    assert app.reconstructions.picture.shape[0] > app.reconstructions.picture.shape[1] / 12  # two rows of images
    for view in (app.summary, app.curves, app.kl_bars, app.reconstructions):
        assert view.shown_trial == "trial_branch_00002" and view.error is None

    select_row(app, "trial_vae_00000")
    assert app.summary.config["arch"] == "vae" and app.summary.config["latent_dim"] == 2
    assert app.curves.terms == ["total", "recon", "kl"]
    assert not app.curves.panes["classifier"].visible and app.curves.panes["kl"].visible
    assert len(app.kl_bars.kl_frame) == 2


def test_clicking_a_point_in_the_overview_selects_its_row(sweep_results):  # noqa: F811
    app = make_app(sweep_results)
    overview = app.overview
    assert (overview.hyperparameter, overview.metric) == ("beta", "best_loss")
    position = list(overview.frame["trial_id"]).index("trial_cond_00001")
    overview.tap.event(index=[position])
    assert app.state.trial_id == "trial_cond_00001"
    (row,) = app.table.tabulator.selection
    assert app.table.tabulator.value["trial_id"].iloc[row] == "trial_cond_00001"
    assert app.summary.config["arch"] == "conditional"
    assert {"beta", "latent_dim", "arch"} <= set(overview.param.hyperparameter.objects)


def test_a_damaged_trial_shows_its_error_and_the_others_keep_working(results_copy):
    sweep = results_copy / SWEEP_NAME
    store = ResultsStore(results_copy)
    (sweep / store.row(SWEEP_NAME, "trial_cond_00001")["latents_path"]).write_bytes(b"\x00garbage")
    (sweep / store.row(SWEEP_NAME, "trial_vae_00003")["checkpoint_path"] / "model.pt").unlink()
    app = ExplorerApp(store)

    select_row(app, "trial_cond_00001")
    assert "latents.parquet cannot be read" in app.reconstructions.error
    assert app.kl_bars.error is None and "active dimensions unknown" in app.kl_bars.notice[0]
    assert app.summary.error is None and app.curves.error is None

    select_row(app, "trial_vae_00003")
    assert "model.pt is missing" in app.reconstructions.error
    assert app.summary.config["beta"] == 8.0 and app.curves.shown_trial == "trial_vae_00003"

    select_row(app, "trial_vae_00000")
    for view in (app.summary, app.curves, app.kl_bars, app.reconstructions):
        assert view.error is None and view.shown_trial == "trial_vae_00000"


def test_a_new_trial_appears_after_a_refresh_and_the_selection_stays(results_copy):
    app = make_app(results_copy)
    select_row(app, "trial_vae_00003")
    sweep = resolve(results_copy / SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    new_row = frame.iloc[[0]].assign(trial_id="trial_new_00004", best_loss=1.0, status="RUNNING")
    write_trials_table(sweep, pd.concat([frame, new_row], ignore_index=True), metadata)
    app.refresh()
    shown = app.table.tabulator.value
    assert shown["trial_id"].iloc[0] == "trial_new_00004" and len(shown) == len(TRIALS) + 1
    assert "trial_new_00004" in set(app.overview.frame["trial_id"])
    assert app.state.trial_id == "trial_vae_00003"
    assert shown["trial_id"].iloc[app.table.tabulator.selection[0]] == "trial_vae_00003"


def test_range_filters_hide_trials_outside_the_range(sweep_results):  # noqa: F811
    app = make_app(sweep_results)
    beta = app.table.range_filters["beta"]
    assert (beta.start, beta.end) == (1.0, 8.0)
    beta.value = (1.5, 5.0)
    assert sorted(app.table.tabulator.current_view["trial_id"]) == ["trial_branch_00002", "trial_cond_00001"]
    app.table.refresh(force=True)  # as when a running sweep rewrites trials.parquet: the narrowed range stays
    assert beta.value == (1.5, 5.0) and len(app.table.tabulator.current_view) == 2
    beta.value = (1.0, 8.0)
    assert len(app.table.tabulator.current_view) == len(TRIALS)


def test_several_sweeps_get_a_chooser(results_copy):
    os.symlink(results_copy / SWEEP_NAME, results_copy / "sweepB")
    app = make_app(results_copy)
    assert app.chooser.select.visible and app.chooser.select.options == [SWEEP_NAME, "sweepB"]
    select_row(app, "trial_vae_00000")
    app.chooser.select.value = "sweepB"
    assert app.state.sweep == "sweepB" and app.state.trial_id is None
    assert app.summary.shown_trial is None
    select_row(app, "trial_vae_00003")
    assert app.summary.config["beta"] == 8.0
    assert not make_app(results_copy / SWEEP_NAME).chooser.select.visible


def test_missing_results_give_a_page_that_says_which_command_makes_them(tmp_path):
    page = build_app(str(tmp_path / "no-results"))
    text = " ".join(str(pane.object) for pane in pn.Column(*page.main).select(pn.pane.HTML))
    assert "no-results does not exist" in text
    assert "latentsweep sweep" in text and "latentsweep train" in text


def test_the_explore_command_is_registered_and_binds_locally(tmp_path):
    args = build_parser().parse_args(["explore", str(tmp_path), "--port", "5011"])
    assert args.handler.__module__ == "explorer.cli" and args.host == "127.0.0.1" and args.port == 5011
    assert websocket_origins("127.0.0.1", 5011) == ["127.0.0.1:5011", "localhost:5011"]
    assert websocket_origins("0.0.0.0", 80) == ["*"]
