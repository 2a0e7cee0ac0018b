"""The Study view: what a sweep with several seeds a configuration found, in the form of Locatello et al. 2019's
figures. For one score, its spread over seeds for each configuration (a box, the trials as points, and a bootstrapped
95% interval of the median); the Spearman rank correlation between all scores; and the trials whose rank differs
most between two chosen scores, a click on one opening it in the Latent space tab.

It follows the table's filters (ExplorerState.shown_trials) and shows only when some configuration has more than
one seed. The numbers come from vaemodels.study_stats, the same as `latentsweep study`'s report.
"""

from __future__ import annotations

from collections.abc import Callable

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param

from explorer.page.boxes import error_box, placeholder
from explorer.page.figures import hv_pane
from explorer.page.state import ExplorerState
from explorer.store import ResultsError, ResultsStore
from explorer.sweep.overview import ARCH_COLORS
from vaemodels import (
    configuration_labels,
    has_seed_replicates,
    label_order,
    median_interval,
    rank_correlation,
    rank_disagreement,
    scores_present,
)

ALL_METHODS = "all methods"
DISAGREEMENTS = 10  # rows of the disagreement list
NOT_STUDY = "The Study view appears when the sweep trains a configuration with more than one seed."


def study_frame(frame: pd.DataFrame, shown: list[str] | None) -> pd.DataFrame:
    """The finished trials the table's filters leave, each with its configuration label."""
    finished = frame[frame["status"] == "TERMINATED"] if "status" in frame else frame.iloc[:0]
    if shown is not None:
        finished = finished[finished["trial_id"].astype(str).isin(shown)]
    if finished.empty or "arch" not in finished:
        return finished.assign(configuration=pd.Series(dtype=object))
    return finished.assign(configuration=configuration_labels(finished), arch=finished["arch"].astype(str))


def intervals(frame: pd.DataFrame, score: str) -> pd.DataFrame:
    """One row a configuration, in registry and value order: the median of `score` over its seeds, its interval."""
    rows = []
    for label, group in frame.groupby("configuration", sort=False):
        median, low, high = median_interval(group[score].to_numpy())
        rows.append({"configuration": label, "median": median, "low": low, "high": high, "seeds": len(group)})
    table = pd.DataFrame(rows, columns=["configuration", "median", "low", "high", "seeds"])
    return table.iloc[sorted(range(len(table)), key=lambda i: label_order(table["configuration"].iloc[i]))]


class StudyView(pn.viewable.Viewer):
    """Score distributions over seeds, the score correlation matrix, and the disagreement list of one sweep."""

    score = param.Selector(default=None, objects=[], doc="the score whose spread over seeds is shown")
    method = param.Selector(default=ALL_METHODS, objects=[ALL_METHODS], doc="one method's configurations, or all")
    first = param.Selector(default=None, objects=[], doc="the disagreement list's first score")
    second = param.Selector(default=None, objects=[], doc="the disagreement list's second score")

    def __init__(
        self, store: ResultsStore, state: ExplorerState, open_trial: Callable[[str], None] | None = None, **params
    ) -> None:
        super().__init__(**params)
        self.store, self.state, self.open_trial = store, state, open_trial
        self.frame = pd.DataFrame()  # the finished, shown trials, labelled
        self.scores: list[str] = []
        self._refreshing = False
        self.distribution = hv_pane(hv.Div(""), height=360)
        self.correlation = pn.pane.HoloViews(hv.Div(""))
        self.disagreement = pn.widgets.Tabulator(
            pd.DataFrame(), selectable=1, disabled=True, show_index=False, height=330, width=520, theme="simple"
        )
        self.disagreement.param.watch(self._disagreement_clicked, "selection")
        self.controls = pn.Row(
            pn.widgets.Select.from_param(self.param.score, label="score", width=220),
            pn.widgets.Select.from_param(self.param.method, label="method", width=220),
        )
        pair = pn.Row(
            pn.widgets.Select.from_param(self.param.first, label="rank by", width=200),
            pn.widgets.Select.from_param(self.param.second, label="against", width=200),
        )
        self.note = pn.pane.HTML(margin=(0, 10))
        self.body = pn.Column(
            self.controls,
            self.distribution,
            self.note,
            pn.Row(
                self.correlation,
                pn.Column(pn.pane.HTML("<b>Trials the two scores rank most differently</b>"), pair, self.disagreement),
            ),
            sizing_mode="stretch_width",
        )
        self._layout = pn.Column(sizing_mode="stretch_width")
        self.param.watch(self._draw_distribution, ["score", "method"])
        self.param.watch(self._draw_disagreement, ["first", "second"])
        state.param.watch(self.refresh, ["sweep", "table_version", "shown_trials"])
        self.refresh()

    @property
    def shown(self) -> bool:
        """True when the sweep has seed replicates and the study's plots are drawn."""
        return self._layout.objects == [self.body]

    def refresh(self, *_: object) -> None:
        """Take the current trials table and the table's filters, and redraw every plot."""
        try:
            frame = self.store.trials(self.state.sweep) if self.state.sweep else pd.DataFrame()
        except ResultsError as failure:
            self._layout.objects = [error_box(str(failure))]
            return
        self.frame = study_frame(frame, self.state.shown_trials)
        self.scores = scores_present(self.frame)
        if not has_seed_replicates(self.frame) or not self.scores:
            self._layout.objects = [placeholder(NOT_STUDY)]
            return
        methods = [ALL_METHODS, *sorted(self.frame["arch"].unique(), key=lambda arch: label_order(arch))]
        self.param.score.objects = self.param.first.objects = self.param.second.objects = self.scores
        self.param.method.objects = methods
        self._refreshing = True  # the choices' watchers wait: everything is drawn once below
        with param.parameterized.batch_call_watchers(self):
            self.score = self.score if self.score in self.scores else self.scores[0]
            self.method = self.method if self.method in methods else ALL_METHODS
            self.first = self.first if self.first in self.scores else self.scores[0]
            second = self.scores[1] if len(self.scores) > 1 else self.scores[0]
            self.second = self.second if self.second in self.scores else second
        self._refreshing = False
        self._draw_distribution()
        self.correlation.object = self.correlation_plot()
        self._draw_disagreement()
        self._layout.objects = [self.body]

    def distribution_plot(self) -> hv.Overlay:
        """Boxes of the score over seeds for each configuration, the trials on top, the median's interval beside."""
        frame = self.frame if self.method == ALL_METHODS else self.frame[self.frame["arch"] == self.method]
        frame = frame[np.isfinite(frame[self.score].astype(float))]
        summary = intervals(frame, self.score)
        order = list(summary["configuration"])
        position = {label: i for i, label in enumerate(order)}  # a categorical axis keeps the data's order
        data = frame[["configuration", self.score, "arch", "trial_id", "seed"]]
        data = data.iloc[np.argsort(data["configuration"].map(position).to_numpy(), kind="stable")]
        boxes = hv.BoxWhisker(data, "configuration", self.score).opts(
            box_fill_color="#eeeeee", box_line_color="#888888", outlier_alpha=0, whisker_color="#888888"
        )
        points = hv.Scatter(data, "configuration", [self.score, "arch", "trial_id", "seed"]).opts(
            color=hv.dim("arch").categorize(ARCH_COLORS, default="#888"),
            jitter=0.35,
            size=6,
            alpha=0.8,
            tools=["hover"],
        )
        bars = hv.ErrorBars(
            (
                summary["configuration"],
                summary["median"],
                summary["median"] - summary["low"],
                summary["high"] - summary["median"],
            ),
            "configuration",
            [self.score, "below", "above"],
        ).opts(color="#d62728", line_width=3)
        return (
            (boxes * points * bars)
            .opts(
                hv.opts.BoxWhisker(xlabel="", ylabel=self.score, xrotation=30 if len(order) > 6 else 0),
                hv.opts.Overlay(
                    responsive=True,
                    height=360,
                    show_grid=True,
                    title=f"{self.score} over seeds, each configuration (red: bootstrapped 95% interval of the median)",
                ),
            )
            .redim.values(configuration=order)
        )

    def correlation_plot(self) -> hv.Overlay:
        """The Spearman matrix of every score over the shown trials, with its values written in."""
        matrix = rank_correlation(self.frame, self.scores)
        cells = [(a, b, matrix.loc[a, b]) for a in self.scores for b in self.scores]
        heat = hv.HeatMap(cells, ["score", "against"], "spearman").opts(
            cmap="RdBu_r", clim=(-1, 1), colorbar=True, xrotation=45, tools=["hover"], invert_yaxis=True
        )
        labels = hv.Labels(
            [(a, b, "" if not np.isfinite(v) else f"{v:.2f}") for a, b, v in cells], ["score", "against"]
        )
        side = max(420, 120 + 44 * len(self.scores))  # room for each cell's value
        font = "9pt" if len(self.scores) <= 8 else "7pt"
        return (heat * labels.opts(text_font_size=font, text_color="black")).opts(
            hv.opts.Overlay(width=side + 40, height=side, title="Spearman correlation of the scores")
        )

    def _draw_distribution(self, *_: object) -> None:
        if self._refreshing or self.score is None or self.frame.empty:
            return
        self.distribution.object = self.distribution_plot()
        counts = self.frame.groupby("configuration").size()
        self.note.object = (
            f"<span style='font-size:13px'>{len(self.frame)} finished trials in {len(counts)} configurations, "
            f"{counts.min()}–{counts.max()} seeds each (the table's filters apply).</span>"
        )

    def _draw_disagreement(self, *_: object) -> None:
        if self._refreshing or self.first is None or self.second is None or self.frame.empty:
            return
        listed = rank_disagreement(self.frame, self.first, self.second, DISAGREEMENTS)
        configurations = self.frame.set_index("trial_id")["configuration"]
        listed.insert(1, "configuration", listed["trial_id"].map(configurations))
        self.disagreement.value = listed.round(4)

    def _disagreement_clicked(self, event: param.parameterized.Event) -> None:
        if not event.new or self.disagreement.value is None or event.new[0] >= len(self.disagreement.value):
            return
        trial_id = str(self.disagreement.value.iloc[event.new[0]]["trial_id"])
        if self.open_trial is not None:
            self.open_trial(trial_id)
        else:
            self.state.trial_id = trial_id

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
