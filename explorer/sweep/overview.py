"""Sweep overview: any metric against any hyperparameter for every trial, coloured by architecture; a click selects."""

from __future__ import annotations

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from explorer.page.boxes import error_box, placeholder
from explorer.page.figures import PALETTE, hv_pane
from explorer.page.state import ExplorerState
from explorer.store import ResultsError, ResultsStore
from vaemodels import ARCHITECTURES, CONFIG_KEYS

METRIC_ORDER = ("best_loss", "loss", "val_recon", "val_kl", "active_units", "mig", "probe_accuracy", "val_accuracy")
NOT_METRICS = {*CONFIG_KEYS, "trial_id", "status", "error", "best_epoch", "epoch", "diverged", "stopped_early"}
ARCH_COLORS = dict(zip(ARCHITECTURES, PALETTE, strict=False))


def metric_options(frame: pd.DataFrame) -> list[str]:
    """Numeric, non-empty metric columns; the usual ones first."""
    numeric = [
        c for c in frame.columns if c not in NOT_METRICS and frame[c].dtype.kind in "fiu" and frame[c].notna().any()
    ]
    return [c for c in METRIC_ORDER if c in numeric] + [c for c in numeric if c not in METRIC_ORDER]


def hyperparameter_options(frame: pd.DataFrame) -> list[str]:
    """Config keys that vary between the trials (all set ones when none varies)."""
    present = [k for k in CONFIG_KEYS if k in frame and frame[k].notna().any()]
    varying = [k for k in present if frame[k].astype(str).nunique() > 1]
    return varying or present


class SweepOverview(pn.viewable.Viewer):
    """Scatter of one metric against one hyperparameter; the selected trial is ringed; tap a point to select it."""

    metric = param.Selector(default=None, objects=[], doc="the y axis")
    hyperparameter = param.Selector(default=None, objects=[], doc="the x axis")
    redraws = param.Integer(default=0, precedence=-1, doc="bumped when the plotted trials change")

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.frame = pd.DataFrame()  # the trials as plotted: Selection1D indices point into it
        self.error: str | None = None
        # A DynamicMap keeps what it drew for unchanged stream values (event() alone redraws nothing): new trials or
        # filters bump `redraws`, a stream value, so that the plot follows them.
        # One stream object for both layers: a bump redraws the overlay once, not once a layer.
        axes = [hv.streams.Params(self, ["metric", "hyperparameter", "redraws"])]
        self.points = hv.DynamicMap(self._points, streams=axes)
        self.tap = hv.streams.Selection1D(source=self.points)
        self.tap.param.watch(self._tapped, "index")
        ring = hv.DynamicMap(self._ring, streams=[*axes, state.param.trial_id])
        self.plot = (self.points * ring).opts(responsive=True, height=320)
        self.controls = pn.Row(
            pn.widgets.Select.from_param(self.param.hyperparameter, label="hyperparameter (x)", width=200),
            pn.widgets.Select.from_param(self.param.metric, label="metric (y)", width=200),
        )
        self._layout = pn.Column(sizing_mode="stretch_width")
        self.legend_pane = pn.pane.HTML(margin=(0, 10))
        self._pane = hv_pane(self.plot)
        state.param.watch(self.refresh, ["sweep", "table_version", "shown_trials"])
        self.refresh()

    def refresh(self, *_: object) -> None:
        """Take the current trials table (new trials appear, axis choices follow the columns)."""
        try:
            frame = self.store.trials(self.state.sweep) if self.state.sweep else pd.DataFrame()
        except ResultsError as failure:
            self.error = str(failure)
            self._layout.objects = [error_box(self.error)]
            return
        self.error = None
        if frame.empty or "arch" not in frame:
            self._layout.objects = [placeholder("The sweep overview appears when the sweep has trials.")]
            return
        if self.state.shown_trials is not None:  # the table's filters hide some trials: so does the overview
            frame = frame[frame["trial_id"].astype(str).isin(self.state.shown_trials)]
            if frame.empty:
                self._layout.objects = [placeholder("No trial passes the table's filters.")]
                return
        metrics, hyperparameters = metric_options(frame), hyperparameter_options(frame)
        self.frame = frame.assign(arch=frame["arch"].fillna("?").astype(str))
        self.param.metric.objects, self.param.hyperparameter.objects = metrics, hyperparameters
        with param.parameterized.batch_call_watchers(self):
            self.metric = self.metric if self.metric in metrics else (metrics[0] if metrics else None)
            default_x = "beta" if "beta" in hyperparameters else (hyperparameters[0] if hyperparameters else None)
            self.hyperparameter = self.hyperparameter if self.hyperparameter in hyperparameters else default_x
        self.redraws += 1
        self.legend_pane.object = self.legend()
        self._set_layout([self.controls, self._pane, self.legend_pane])

    def _set_layout(self, objects: list) -> None:
        if [id(o) for o in objects] != [id(o) for o in self._layout.objects]:  # a new layout re-walks every model
            self._layout.objects = objects

    def _columns(self) -> list[str]:
        return list(dict.fromkeys([self.hyperparameter, self.metric, "arch", "trial_id"]))

    def _points(self, metric: str | None, hyperparameter: str | None, redraws: int = 0) -> hv.Scatter:
        if self.frame.empty or metric is None or hyperparameter is None:
            return hv.Scatter(pd.DataFrame({"x": [], "y": []}), "x", "y")
        data = self.frame[self._columns()]
        return hv.Scatter(data, hyperparameter, self._columns()[1:]).opts(
            color=hv.dim("arch").categorize(ARCH_COLORS, default="#888"),
            size=9,
            alpha=0.85,
            tools=["tap", "hover"],
            nonselection_alpha=0.85,
            logx=_log_scale(data[hyperparameter]),
            xlabel=hyperparameter,
            ylabel=metric,
            show_grid=True,
            title=f"{metric} against {hyperparameter} (colour: arch; click a point to select its trial)",
        )

    def _ring(
        self, metric: str | None, hyperparameter: str | None, trial_id: str | None, redraws: int = 0
    ) -> hv.Scatter:
        chosen = self.frame[self.frame["trial_id"] == trial_id] if trial_id and not self.frame.empty else None
        if metric is None or hyperparameter is None:
            return hv.Scatter(pd.DataFrame({"x": [], "y": []}), "x", "y")
        if chosen is None:
            chosen = self.frame.iloc[:0]
        ring = hv.Scatter(chosen[self._columns()], hyperparameter, self._columns()[1:])
        return ring.opts(marker="circle", size=20, fill_alpha=0, line_color="#d62728", line_width=3)

    def _tapped(self, event: param.parameterized.Event) -> None:
        if event.new and event.new[0] < len(self.frame):
            self.state.trial_id = str(self.frame.iloc[event.new[0]]["trial_id"])

    def legend(self) -> str:
        """The architecture colours as HTML."""
        swatches = (
            f"<span style='color:{ARCH_COLORS.get(arch, '#888')}'>●</span> {arch}"
            for arch in sorted(self.frame["arch"].unique())
        )
        return "<span style='font-size:13px'>arch: " + " &nbsp; ".join(swatches) + " &nbsp; (ringed: selected)</span>"

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _log_scale(values: pd.Series) -> bool:
    """A log axis for a positive numeric range spanning at least a factor of 20 (beta, lr)."""
    if values.dtype.kind not in "fiu":
        return False
    finite = values[np.isfinite(values.astype(float))]
    return bool(len(finite) and finite.min() > 0 and finite.max() / finite.min() >= 20)
