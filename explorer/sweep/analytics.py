"""The Sweep tab's analytics: parallel coordinates (brushing filters the table), hyperparameter importance for a
metric, and two metrics against each other with the Pareto front marked (a click selects a trial)."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import optuna
import pandas as pd
import panel as pn
import param

from explorer.page.boxes import card, placeholder
from explorer.page.figures import hv_pane
from explorer.page.state import ExplorerState
from explorer.store import ResultsError, ResultsStore
from explorer.sweep.importance import EVALUATOR, importances
from explorer.sweep.overview import ARCH_COLORS, metric_options
from explorer.sweep.parallel_view import ParallelCoordinates
from explorer.sweep.pareto import larger_is_better, pareto_mask
from explorer.sweep.table import TrialTable

optuna.logging.set_verbosity(optuna.logging.WARNING)
PARETO_DEFAULTS = (("best_loss", "mig"), ("val_recon", "val_kl"), ("loss", "val_kl"))


def _trials(store: ResultsStore, state: ExplorerState) -> pd.DataFrame:
    try:
        return store.trials(state.sweep) if state.sweep else pd.DataFrame()
    except ResultsError:
        return pd.DataFrame()  # the table says what is wrong with the sweep


class ParetoView(pn.viewable.Viewer):
    """Two metrics of the trials the filters keep, the non-dominated ones joined and ringed; tap to select."""

    x_metric = param.Selector(default=None, objects=[], doc="the x axis")
    y_metric = param.Selector(default=None, objects=[], doc="the y axis")
    redraws = param.Integer(default=0, precedence=-1, doc="bumped when the plotted trials change (see overview.py)")

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.frame = pd.DataFrame()  # the plotted trials: Selection1D indices point into it
        axes = [hv.streams.Params(self, ["x_metric", "y_metric", "redraws"])]  # shared: one redraw a bump
        self.points = hv.DynamicMap(self._points, streams=axes)
        self.front = hv.DynamicMap(self._front, streams=axes)
        self.tap = hv.streams.Selection1D(source=self.points)
        self.tap.param.watch(self._tapped, "index")
        self.pane = hv_pane((self.points * self.front).opts(responsive=True, height=320))
        self.controls = pn.Row(
            pn.widgets.Select.from_param(self.param.x_metric, label="x", width=180),
            pn.widgets.Select.from_param(self.param.y_metric, label="y", width=180),
        )
        self.layout = pn.Column(sizing_mode="stretch_width")
        state.param.watch(self.refresh, ["sweep", "table_version", "shown_trials", "trial_id"])
        self.refresh()

    def refresh(self, *_: object) -> None:
        """Take the trials the filters keep and redraw."""
        frame = _trials(self.store, self.state)
        if not frame.empty and self.state.shown_trials is not None:
            frame = frame[frame["trial_id"].astype(str).isin(set(self.state.shown_trials))]
        metrics = metric_options(frame) if not frame.empty else []
        if len(metrics) < 2:
            self.layout.objects = [placeholder("Two metrics against each other appear when trials have them.")]
            return
        self.frame = frame.assign(arch=frame.get("arch", pd.Series("?", index=frame.index)).fillna("?").astype(str))
        self.frame = self.frame.assign(trial_id=self.frame["trial_id"].astype(str))
        default = next(((x, y) for x, y in PARETO_DEFAULTS if x in metrics and y in metrics), tuple(metrics[:2]))
        self.param.x_metric.objects = self.param.y_metric.objects = metrics
        with param.parameterized.batch_call_watchers(self):
            self.x_metric = self.x_metric if self.x_metric in metrics else default[0]
            self.y_metric = self.y_metric if self.y_metric in metrics else default[1]
        self.redraws += 1
        if [id(o) for o in self.layout.objects] != [id(self.controls), id(self.pane)]:  # else it re-walks every model
            self.layout.objects = [self.controls, self.pane]

    def front_mask(self) -> np.ndarray:
        """True for the plotted trials on the Pareto front of the two metrics."""
        if self.frame.empty or self.x_metric is None or self.y_metric is None:
            return np.zeros(len(self.frame), dtype=bool)
        x, y = self.frame[self.x_metric], self.frame[self.y_metric]
        return pareto_mask(x, y, larger_is_better(self.x_metric), larger_is_better(self.y_metric))

    def _columns(self, x: str, y: str) -> list[str]:
        return list(dict.fromkeys([x, y, "arch", "trial_id"]))

    def _label(self, metric: str) -> str:
        return f"{metric} ({'higher' if larger_is_better(metric) else 'lower'} is better)"

    def _points(self, x_metric: str | None, y_metric: str | None, redraws: int = 0) -> hv.Scatter:
        if self.frame.empty or x_metric is None or y_metric is None:
            return hv.Scatter(pd.DataFrame({"x": [], "y": []}), "x", "y")
        columns = self._columns(x_metric, y_metric)
        chosen = (self.frame["trial_id"] == self.state.trial_id).to_numpy()
        data = self.frame[columns].assign(ring=np.where(chosen, 3.0, 0.0))
        return hv.Scatter(data, x_metric, [*columns[1:], "ring"]).opts(
            color=hv.dim("arch").categorize(ARCH_COLORS, default="#888"),
            line_color="#d62728",
            line_width="ring",
            size=9,
            alpha=0.85,
            nonselection_alpha=0.85,
            tools=["tap", "hover"],
            xlabel=self._label(x_metric),
            ylabel=self._label(y_metric),
            show_grid=True,
            title=f"{y_metric} against {x_metric} (dashed: Pareto front; click selects)",
        )

    def _front(self, x_metric: str | None, y_metric: str | None, redraws: int = 0) -> hv.Curve:
        if self.frame.empty or x_metric is None or y_metric is None:
            return hv.Curve([])
        front = self.frame[self.front_mask()].sort_values(x_metric)
        return hv.Curve(front[[x_metric, y_metric]], x_metric, y_metric).opts(
            color="#333", line_dash="dashed", line_width=2
        )

    def _tapped(self, event: param.parameterized.Event) -> None:
        if event.new and event.new[0] < len(self.frame):
            self.state.trial_id = str(self.frame.iloc[event.new[0]]["trial_id"])

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class ImportanceView(pn.viewable.Viewer):
    """fANOVA importance of each hyperparameter for one metric, over all the sweep's trials (cached)."""

    metric = param.Selector(default=None, objects=[], doc="the metric explained")

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.cache: dict[tuple, dict[str, float]] = {}
        self.found: dict[str, float] = {}
        self.pane = hv_pane(hv.Bars([]))
        self.select = pn.widgets.Select.from_param(self.param.metric, label="metric", width=200)
        self.evaluator = pn.pane.HTML(margin=(0, 10))
        self.layout = pn.Column(sizing_mode="stretch_width")
        self.param.watch(self._draw, "metric")
        state.param.watch(self.refresh, ["sweep", "table_version"])
        self.refresh()

    def refresh(self, *_: object) -> None:
        """New metric choices for a new table; redraw for the chosen metric."""
        frame = _trials(self.store, self.state)
        metrics = metric_options(frame) if not frame.empty else []
        self.param.metric.objects = metrics
        metric = self.metric if self.metric in metrics else (metrics[0] if metrics else None)
        if metric == self.metric:
            self._draw()
        else:
            self.metric = metric

    def _draw(self, *_: object) -> None:
        frame = _trials(self.store, self.state)
        if self.metric is None or frame.empty:
            self.layout.objects = [placeholder("Importance appears when the sweep's trials have a metric.")]
            return
        key = (self.state.sweep, self.state.table_version, self.metric)
        if key not in self.cache:
            self.cache[key] = importances(frame, self.metric, minimize=not larger_is_better(self.metric))
        self.found = self.cache[key]
        if not self.found:
            note = f"Too few trials with {self.metric}, or no hyperparameter set in all of them, for importance."
            self.layout.objects = [self.select, placeholder(note)]
            return
        bars = hv.Bars(list(self.found.items()), "hyperparameter", "importance").opts(
            invert_axes=True,
            responsive=True,
            height=max(140, 60 + 28 * len(self.found)),
            color="#0072B2",
            tools=["hover"],
            title=f"importance for {self.metric} over all {int(frame[self.metric].notna().sum())} trials",
        )
        self.pane.object = bars
        self.evaluator.object = f"<span style='font-size:12px;color:#555'>evaluator: {EVALUATOR}</span>"
        self.layout.objects = [self.select, self.pane, self.evaluator]

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class SweepAnalytics(pn.viewable.Viewer):
    """The three analytics views, linked through the table's filters and the selected trial."""

    def __init__(self, store: ResultsStore, state: ExplorerState, table: TrialTable, **params) -> None:
        super().__init__(**params)
        self.parallel = ParallelCoordinates(store, state, table)
        self.importance = ImportanceView(store, state)
        self.pareto = ParetoView(store, state)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            card("Parallel coordinates (drag a box over an axis to keep a range)", self.parallel),
            pn.Row(
                card("Two metrics and their Pareto front", self.pareto, min_width=420),
                card("Hyperparameter importance", self.importance, min_width=380),
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
        )
