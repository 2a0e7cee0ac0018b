"""The Sweep tab's analytics views on a made-up 300-trial sweep: brushing filters the table and every view after it,
the Pareto plot selects, importance names the hyperparameter that matters. State only; the browser test is in
test_sweep_analytics_browser.py."""

import numpy as np
import pandas as pd
import panel as pn
import pytest
from bokeh.events import SelectionGeometry

from explorer.app import ExplorerApp
from explorer.store import ResultsStore
from explorer.sweep.pareto import pareto_mask
from vaemodels import resolve, write_trials_table

N = 300


def made_up_trials(n: int, seed: int = 0) -> pd.DataFrame:
    """Trials whose best_loss grows with log(beta) and nothing else."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "trial_id": [f"trial_{i:05d}" for i in range(n)],
            "status": "TERMINATED",
            "arch": rng.choice(["vae", "conditional", "branched"], n),
            "beta": np.exp(rng.uniform(np.log(0.1), np.log(32), n)),
            "latent_dim": rng.choice([2, 4, 8, 16], n),
            "lr": np.exp(rng.uniform(np.log(1e-4), np.log(1e-2), n)),
        }
    )
    frame["best_loss"] = 50 + 3 * np.log(frame["beta"]) + rng.normal(0, 0.2, n)
    frame["mig"] = rng.uniform(0, 0.5, n)
    return frame


@pytest.fixture
def app(tmp_path) -> ExplorerApp:
    (tmp_path / "sweep").mkdir()
    write_trials_table(resolve(tmp_path / "sweep"), made_up_trials(N), {})
    return ExplorerApp(ResultsStore(str(tmp_path)))


def table_rows(app: ExplorerApp) -> int:
    return len(app.table.tabulator.current_view)


def test_brushing_an_axis_filters_the_table_the_overview_and_the_other_plots(app):
    parallel, frame = app.analytics.parallel, app.table.frame
    assert table_rows(app) == N and parallel.kept_mask().all()
    parallel.brush("latent_dim", 3, 9)
    expected = set(frame.loc[frame["latent_dim"].isin([4, 8]), "trial_id"])
    assert table_rows(app) == len(expected) < N
    assert set(app.state.shown_trials) == expected
    assert set(app.overview.frame["trial_id"]) == expected
    assert set(app.analytics.pareto.frame["trial_id"]) == expected
    assert len(parallel.sources["kept"].data["ys"]) == len(expected)
    assert len(parallel.sources["out"].data["ys"]) == N - len(expected)
    assert f"{len(expected)} of {N} trials" in app.table.summary.object
    assert len(parallel.boxes.data["top"]) == 1  # the brushed span is drawn on its axis


def test_a_beta_brush_moves_the_sidebar_slider_and_both_brushes_combine(app):
    parallel, frame = app.analytics.parallel, app.table.frame
    parallel.brush("beta", 1.0, 4.0)
    assert app.table.range_filters["beta"].value == (1.0, 4.0)
    parallel.brush("latent_dim", 2, 2)
    expected = frame[frame["beta"].between(1.0, 4.0) & (frame["latent_dim"] == 2)]
    assert table_rows(app) == len(expected) > 0
    parallel.clear()
    assert table_rows(app) == N and app.state.shown_trials is None and parallel.brushes == {}
    assert app.table.range_filters["beta"].value == (
        app.table.range_filters["beta"].start,
        app.table.range_filters["beta"].end,
    )


def test_a_box_dropped_over_an_axis_brushes_that_axis_in_its_units(app):
    parallel = app.analytics.parallel
    index = [a.column for a in parallel.axes].index("beta")
    axis = parallel.axes[index]
    assert axis.log and [a.column for a in parallel.axes if a.log] == ["beta", "lr"]
    geometry = {"type": "rect", "x0": index - 0.2, "x1": index + 0.2, "y0": 0.0, "y1": 0.5}
    parallel._box_dropped(SelectionGeometry(parallel.figure, geometry=geometry, final=True))
    low, high = app.table.ranges["beta"]
    betas = app.table.frame["beta"]
    assert low == pytest.approx(betas.min()) and high == pytest.approx(np.sqrt(betas.min() * betas.max()))  # log mid
    assert table_rows(app) == int(betas.between(low, high).sum())
    with pytest.raises(ValueError, match="'arch' is not a numeric axis"):
        parallel.brush("arch", 0, 1)


def test_a_brush_survives_the_table_reading_new_trials(app, tmp_path):
    app.analytics.parallel.brush("latent_dim", 16, 16)
    write_trials_table(resolve(tmp_path / "sweep"), made_up_trials(N + 40), {})
    assert app.table.refresh()
    frame = app.table.frame
    assert app.table.ranges["latent_dim"] == (16, 16)
    assert table_rows(app) == int((frame["latent_dim"] == 16).sum())


def test_the_pareto_plot_marks_the_front_and_a_tap_selects_a_trial(app):
    pareto = app.analytics.pareto
    assert (pareto.x_metric, pareto.y_metric) == ("best_loss", "mig")
    frame = pareto.frame
    expected = pareto_mask(frame["best_loss"], frame["mig"], maximize_x=False, maximize_y=True)
    assert pareto.front_mask().tolist() == expected.tolist() and 0 < expected.sum() < N
    pareto.tap.event(index=[5])
    assert app.state.trial_id == frame.iloc[5]["trial_id"]


def test_importance_names_beta_and_says_which_evaluator(app):
    importance = app.analytics.importance
    assert importance.metric == "best_loss"
    assert max(importance.found, key=importance.found.get) == "beta"
    assert "fANOVA" in importance.evaluator.object


def test_the_sweep_tab_holds_the_analytics(app):
    sweep_tab = app.tabs.objects[0]
    assert any(pane is app.analytics.parallel.pane for pane in sweep_tab.select(pn.pane.Bokeh))
    assert any(pane is app.analytics.pareto.pane for pane in sweep_tab.select(pn.pane.HoloViews))


def test_the_drawn_plots_follow_a_brush_not_only_the_views_frames(app):
    from bokeh.models import GlyphRenderer, MultiLine, Scatter

    root = pn.Column(app.table, app.tabs).get_root()  # the models a session's browser would get

    def drawn(glyph: type) -> list[int]:
        column = "xs" if glyph is MultiLine else "arch"
        sources = [r.data_source.data for r in root.select({"type": GlyphRenderer}) if isinstance(r.glyph, glyph)]
        return sorted(len(data[column]) for data in sources if len(data.get(column, [])))

    assert drawn(Scatter) == [N, N]  # the overview and the Pareto plot
    app.analytics.parallel.brush("latent_dim", 2, 4)
    kept = table_rows(app)
    assert drawn(Scatter) == [kept, kept]
    assert drawn(MultiLine) == sorted([kept, N - kept])
