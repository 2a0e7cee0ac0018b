"""The Study view on the Sweep tab: it shows only with seed replicates, follows the table's filters, and a click in
its disagreement list opens that trial's latent space. On a hand-made trials table, no browser."""

import holoviews as hv
import pytest

from explorer.app import LATENT_TAB, ExplorerApp
from explorer.page.state import ExplorerState
from explorer.store import ResultsStore
from explorer.sweep.study_view import NOT_STUDY, StudyView, intervals, study_frame
from tests.helpers.tables import study_rows
from vaemodels import frame_from_rows, resolve, write_trials_table


@pytest.fixture
def study_store(tmp_path) -> ResultsStore:
    write_trials_table(resolve(str(tmp_path / "study")), frame_from_rows(study_rows()), {})
    return ResultsStore(results=str(tmp_path / "study"))


def test_it_shows_every_finished_trial_and_the_interval_of_each_configuration(study_store):
    view = StudyView(study_store, ExplorerState(sweep="study"))
    assert view.shown and len(view.frame) == 12  # four configurations of three seeds; the broken trial left out
    assert view.score == "mig" and view.first == "mig" and view.second != "mig"
    summary = intervals(view.frame, "mig")
    # Registry order (vae before beta_tcvae), then the value; beta=4's seeds give 0.40, 0.41, 0.42: median 0.41.
    assert list(summary["configuration"]) == [
        "vae beta=1",
        "vae beta=4",
        "beta_tcvae tc_weight=2",
        "beta_tcvae tc_weight=6",
    ]
    assert summary.set_index("configuration").loc["vae beta=4", "median"] == pytest.approx(0.41)
    overlay = view.distribution_plot()
    points = overlay.get(1)
    assert isinstance(points, hv.Scatter) and len(points) == 12
    hv.render(overlay), hv.render(view.correlation_plot())  # both draw in Bokeh


def test_the_table_filters_shrink_it_and_one_seed_a_configuration_hides_it(study_store):
    state = ExplorerState(sweep="study")
    view = StudyView(study_store, state)
    state.shown_trials = [row["trial_id"] for row in study_rows() if row["arch"] == "vae"]
    assert view.shown and len(view.frame) == 6 and set(view.frame["arch"]) == {"vae"}
    assert "6 finished trials in 2 configurations" in view.note.object
    state.shown_trials = [row["trial_id"] for row in study_rows() if row.get("seed") == 0]
    assert not view.shown and NOT_STUDY in view._layout.objects[0].object


def test_a_method_choice_keeps_its_configurations_only(study_store):
    view = StudyView(study_store, ExplorerState(sweep="study"))
    view.method = "beta_tcvae"
    points = view.distribution.object.get(1)
    assert set(points.data["configuration"]) == {"beta_tcvae tc_weight=2", "beta_tcvae tc_weight=6"}


def test_a_click_in_the_disagreement_list_opens_the_trial_in_the_latent_space(study_store):
    app = ExplorerApp(study_store)
    app.state.sweep = "study"
    view = app.study
    view.first, view.second = "mig", "active_units"  # exact reverse orders: the ends disagree most
    listed = view.disagreement.value
    assert listed.loc[0, "rank difference"] == 11.0 and "configuration" in listed
    view.disagreement.selection = [0]
    assert app.state.trial_id == listed.loc[0, "trial_id"]
    assert app.tab_names[app.tabs.active] == LATENT_TAB


def test_study_frame_without_status_or_arch_is_empty():
    frame = frame_from_rows([{"trial_id": "a", "mig": 0.1}])
    assert study_frame(frame, None).empty
