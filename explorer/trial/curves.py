"""Training curves of the selected trial: train and validation values of every loss term over all epochs.

Plain Bokeh figures, built once and fed through their ColumnDataSources: a trial switch costs milliseconds, where
re-rendering five HoloViews figures took 0.4-1.5 s on these machines (measured; see benchmarks/explorer_speed.py).
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import panel as pn
from bokeh.models import AdaptiveTicker, ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.page.figures import PALETTE, edit_bokeh
from explorer.trial.view import NothingToShow, Notice, TrialView
from vaemodels import loss_terms

LOSS_TERMS = loss_terms()  # the shared terms, then each architecture's own (its registry entry)
CURVE_WIDTH, CURVE_HEIGHT = 330, 230
TRAIN_COLOR, VAL_COLOR, BEST_COLOR = PALETTE[0], PALETTE[1], "#d62728"
LEGEND = (
    f"<span style='font-size:13px'><span style='color:{TRAIN_COLOR}'>- - -</span> train &nbsp; "
    f"<span style='color:{VAL_COLOR}'>───</span> validation &nbsp; "
    f"<span style='color:{BEST_COLOR}'>★</span> best epoch (lowest <code>loss</code>)</span>"
)


def history_frame(history: list[dict]) -> pd.DataFrame:
    """history.json as a frame of scalar metrics, one row an epoch (list metrics such as val_kl_per_dim left out)."""
    return pd.DataFrame([{k: v for k, v in entry.items() if not isinstance(v, list)} for entry in history])


def _curve_figure(term: str) -> tuple[figure, ColumnDataSource, ColumnDataSource]:
    """One term's figure with its two sources: per-epoch values, and the best epoch's point."""
    values = ColumnDataSource({"epoch": [], "train": [], "val": []})
    best = ColumnDataSource({"epoch": [], "val": []})
    plot = figure(
        title=term, width=CURVE_WIDTH, height=CURVE_HEIGHT, toolbar_location=None, x_axis_label="epoch", tools=""
    )
    for column, color, dash in (("train", TRAIN_COLOR, "dashed"), ("val", VAL_COLOR, "solid")):
        plot.line("epoch", column, source=values, color=color, line_dash=dash, line_width=2)
        plot.scatter("epoch", column, source=values, color=color, size=5)
    plot.scatter("epoch", "val", source=best, marker="star", color=BEST_COLOR, size=14)
    plot.xaxis.ticker = AdaptiveTicker(min_interval=1, num_minor_ticks=0)  # whole epochs only
    plot.add_tools(HoverTool(tooltips=[("epoch", "@epoch"), ("train", "@train{0.[000]}"), ("val", "@val{0.[000]}")]))
    return plot, values, best


class TrainingCurves(TrialView):
    """Train (dashed) and validation (solid) curves of every loss term; terms the trial lacks are hidden."""

    what = "training curves"

    def setup(self) -> None:
        self.figures: dict[str, tuple[figure, ColumnDataSource, ColumnDataSource]] = {
            term: _curve_figure(term) for term in LOSS_TERMS
        }
        # Each figure in a Column whose `visible` is toggled: toggling it on the Bokeh pane fails in Panel 1.9.
        self.panes = {term: pn.Column(pn.pane.Bokeh(parts[0])) for term, parts in self.figures.items()}
        self.content = [pn.pane.HTML(LEGEND), pn.FlexBox(*self.panes.values(), sizing_mode="stretch_width")]

    def clear(self) -> None:
        self.history_frame = pd.DataFrame()
        self.terms: list[str] = []

    def render(self, sweep: str, trial_id: str) -> Notice | None:
        frame = history_frame(self.store.history(sweep, trial_id))
        self.history_frame = frame
        self.terms = [t for t in LOSS_TERMS if f"train_{t}" in frame or f"val_{t}" in frame]
        if frame.empty or not self.terms or "epoch" not in frame:
            raise NothingToShow(f"trial {trial_id} has no finished epoch yet")
        for term, pane in self.panes.items():
            pane.visible = term in self.terms
        edit_bokeh(partial(self._draw, frame))
        return None

    def _draw(self, frame: pd.DataFrame) -> None:
        """Give every figure the trial's values (and its best epoch's point)."""
        has_loss = "loss" in frame and frame["loss"].notna().any()
        best_row = frame.loc[[frame["loss"].idxmin()]] if has_loss else None
        for term, (_, values, best) in self.figures.items():
            epochs = frame["epoch"].to_numpy(float)
            values.data = {
                "epoch": epochs,
                "train": _column(frame, f"train_{term}"),
                "val": _column(frame, f"val_{term}"),
            }
            if best_row is None or f"val_{term}" not in frame:
                best.data = {"epoch": [], "val": []}
            else:
                best.data = {"epoch": best_row["epoch"].to_numpy(float), "val": best_row[f"val_{term}"].to_numpy(float)}


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A metric column as floats (NaN where absent, which Bokeh leaves as a gap)."""
    return frame[name].to_numpy(float) if name in frame else np.full(len(frame), np.nan)
