"""Many sessions on one server: each builds only the tab it shows, they share the store's data, and a closed one's
page can be freed."""

import gc
import weakref

import pandas as pd
import panel as pn
import pytest

from explorer.app import ExplorerApp
from explorer.page.release import linked_sources, release_links
from explorer.store import ResultsStore
from tests.helpers.sweeps import N_TRIALS, SWEEP_NAME, find_trial
from vaemodels.storage import resolve
from vaemodels.trials_table import read_trials_table, write_trials_table

pytestmark = pytest.mark.slow  # the session fixture runs a real six-trial sweep


def select_row(app: ExplorerApp, trial_id: str) -> None:
    position = list(app.table.tabulator.value["trial_id"]).index(trial_id)
    app.table.tabulator.selection = [position]


def test_a_new_page_builds_its_first_tab_only_and_the_others_when_opened(sweep_results):
    app = ExplorerApp(ResultsStore(sweep_results))
    assert app.built_tabs == {"Sweep"} and len(app.tabs[0].objects) == 3  # the overview, analytics, study
    assert app.tabs[1].objects == [] and app.tabs[2].objects == []
    assert "summary" not in vars(app) and "latent_explorer" not in vars(app)  # no per-trial view built yet
    vae = find_trial(sweep_results, "vae", 8.0)
    select_row(app, vae)
    app.open_tab("Trial")
    assert "summary" in vars(app) and app.summary.shown_trial == vae  # built on opening, with the selected trial
    assert len(app.tabs[1].objects) == 3 and app.tabs[2].objects == []
    app.open_tab("Latent space")
    assert app.latent_explorer.state.trial.path.name == vae
    assert app.built_tabs == {"Sweep", "Trial", "Latent space"} and len(app.tabs[2].objects) == 3  # and compare


def test_a_page_served_later_fills_its_first_tab_when_asked(sweep_results):
    app = ExplorerApp(ResultsStore(sweep_results), first_tab_later=True)
    assert app.tabs[0].objects == [] and app.built_tabs == set()
    app.show_first_tab()
    assert len(app.tabs[0].objects) == 3 and app.built_tabs == {"Sweep"}


def test_sessions_share_the_trials_table_until_trials_parquet_changes(results_copy):
    results = results_copy
    store = ResultsStore(results)
    first, second = ExplorerApp(store), ExplorerApp(store)
    assert first.table.frame is second.table.frame  # read once, shared
    sweep = resolve(results / SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    new_row = frame.iloc[[0]].assign(trial_id="trial_new_00009", best_loss=0.5)
    write_trials_table(sweep, pd.concat([frame, new_row], ignore_index=True), metadata)
    first.refresh()
    second.refresh()
    assert first.table.frame is second.table.frame and len(first.table.frame) == N_TRIALS + 1
    assert "trial_new_00009" in set(second.table.tabulator.value["trial_id"])


def test_a_released_page_leaves_no_link_behind_and_is_freed(sweep_results):
    app = ExplorerApp(ResultsStore(sweep_results))
    roots = [app.table.filters, app.tabs, app.chooser.select]
    assert linked_sources(roots) > 0  # the range filters link their boxes to their slider in JavaScript
    assert app.release() > 0
    assert linked_sources(roots) == 0
    alive = weakref.ref(app)
    del app, roots
    gc.collect()
    assert alive() is None  # nothing process-wide holds the page any more


def test_release_links_forgets_only_the_pages_own_links():
    ours = pn.Column(pn.widgets.EditableRangeSlider(start=0, end=1, value=(0, 1)))
    theirs = pn.Column(pn.widgets.EditableRangeSlider(start=0, end=2, value=(0, 2)))
    assert linked_sources([ours]) > 0 and linked_sources([theirs]) > 0
    release_links([ours])
    assert linked_sources([ours]) == 0 and linked_sources([theirs]) > 0
