"""Parallel coordinates over the hyperparameters and chosen metrics; brushing an axis filters the trials.

Route: Bokeh lines drawn by this module (one `multi_line` for the trials the filters keep, one for the rest), a
`BoxSelectTool` whose box, dropped over an axis, brushes that axis, and an axis + range widget pair for exact
brushes. Why: HoloViews has no brushable parallel-coordinates element; Bokeh's own example needs a compiled
TypeScript tool; a Plotly `Parcoords` needs plotly, which is not a dependency, and plotly.js from a CDN, while the
page must work offline. Everything here is Bokeh's and Panel's bundled JavaScript, served by Panel itself.

A brush is a range in the trial table's `ranges` (beta and lr through their sidebar sliders), so the table filters
its rows and reports the trials it keeps in `ExplorerState.shown_trials`, which the overview, the counts and the
other analytics plots follow. Categorical axes (arch) are drawn but filtered in the table's header.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.events import SelectionGeometry
from bokeh.models import BoxSelectTool, ColumnDataSource, FixedTicker, LabelSet
from bokeh.plotting import figure

from explorer.page.figures import edit_bokeh
from explorer.page.state import ExplorerState
from explorer.store import ResultsError, ResultsStore
from explorer.sweep.overview import ARCH_COLORS, hyperparameter_options, metric_options
from explorer.sweep.parallel import Axis, make_axis, positions
from explorer.sweep.table import TrialTable, plain_value_boxes

DEFAULT_METRICS = ("best_loss", "mig")
FADED, CHOSEN = "#c8c8c8", "#d62728"


class ParallelCoordinates(pn.viewable.Viewer):
    """Every trial as a line across the hyperparameter and metric axes; drag a box over an axis to keep a range."""

    metrics = param.ListSelector(default=[], objects=[], doc="metric axes shown after the hyperparameters")
    axis = param.Selector(default=None, objects=[], doc="the axis the range widget brushes")

    def __init__(self, store: ResultsStore, state: ExplorerState, table: TrialTable, **params) -> None:
        super().__init__(**params)
        self.store, self.state, self.table = store, state, table
        self.frame = pd.DataFrame()
        self.axes: list[Axis] = []
        self.lines = np.zeros((0, 0))  # (n_trials, n_axes) positions in [0, 1]
        self.brushes: dict[str, tuple[float, float]] = {}  # what was brushed here; survives the table's refreshes
        self.sources = {name: ColumnDataSource({"xs": [], "ys": [], "color": []}) for name in ("kept", "out", "one")}
        self.boxes = ColumnDataSource({"left": [], "right": [], "bottom": [], "top": []})
        self.ticks = ColumnDataSource({"x": [], "y": [], "text": []})
        self.figure = self._figure()
        self.range_input = plain_value_boxes(
            pn.widgets.EditableRangeSlider(label="range", start=0, end=1, value=(0, 1), width=280)
        )
        self.clear_button = pn.widgets.Button(label="Clear brushes", width=130)
        self.clear_button.on_click(lambda _: self.clear())
        self.range_input.param.watch(self._range_typed, "value")
        self.param.watch(self._axis_chosen, "axis")
        self.param.watch(self.refresh, "metrics")
        self.note = pn.pane.HTML(margin=(0, 10))
        self.controls = pn.Row(
            pn.widgets.MultiSelect.from_param(
                self.param.metrics, label="metric axes (ctrl-click for more)", size=4, width=240
            ),
            pn.widgets.Select.from_param(self.param.axis, label="brush axis", width=160),
            self.range_input,
            self.clear_button,
        )
        self.pane = pn.pane.Bokeh(self.figure, sizing_mode="stretch_width")
        state.param.watch(self.refresh, ["sweep", "table_version"])
        state.param.watch(self.redraw, ["shown_trials", "trial_id"])
        table.param.watch(self._ranges_changed, "ranges")
        self.refresh()

    def _figure(self):
        fig = figure(height=340, sizing_mode="stretch_width", x_range=(-0.4, 1.4), y_range=(-0.08, 1.08))
        fig.multi_line("xs", "ys", source=self.sources["out"], line_color=FADED, line_alpha=0.35, line_width=1)
        fig.multi_line("xs", "ys", source=self.sources["kept"], line_color="color", line_alpha=0.7, line_width=1.5)
        fig.multi_line("xs", "ys", source=self.sources["one"], line_color=CHOSEN, line_width=3.5)
        fig.quad(source=self.boxes, fill_color="#0072B2", fill_alpha=0.15, line_color="#0072B2", line_width=2)
        fig.add_layout(LabelSet(x="x", y="y", text="text", source=self.ticks, x_offset=4, text_font_size="11px"))
        target = fig.scatter(x=[0.0], y=[0.0], alpha=0)  # box select needs a renderer; the box's span is what counts
        fig.add_tools(BoxSelectTool(renderers=[target], dimensions="both"))
        fig.toolbar.active_drag = fig.tools[-1]
        fig.yaxis.visible = False
        fig.ygrid.visible = False
        fig.xgrid.grid_line_color = "#555"
        fig.xaxis.major_label_text_font_size = "12px"
        fig.on_event(SelectionGeometry, self._box_dropped)
        return fig

    # --- data ---------------------------------------------------------------------------------------------------

    def refresh(self, *_: object) -> None:
        """Re-read the sweep's trials and rebuild the axes (new trials, another sweep, other metric axes)."""
        try:
            frame = self.store.trials(self.state.sweep) if self.state.sweep else pd.DataFrame()
        except ResultsError as failure:
            frame, self.note.object = pd.DataFrame(), f"<span style='color:#842029'>{failure}</span>"
        if frame.empty or "trial_id" not in frame:
            self.frame, self.axes, self.lines = pd.DataFrame(), [], np.zeros((0, 0))
            self._draw_axes()
            self.redraw()
            return
        self.frame = frame.assign(trial_id=frame["trial_id"].astype(str))
        choices = metric_options(frame)
        self.param.metrics.objects = choices
        chosen = [m for m in self.metrics if m in choices] or [m for m in DEFAULT_METRICS if m in choices]
        columns = [c for c in hyperparameter_options(frame) if c != "arch"] + chosen
        columns = (["arch"] if "arch" in frame else []) + [c for c in columns if self.frame[c].notna().any()]
        self.axes = [make_axis(self.frame, c, wide_is_log=c not in chosen) for c in columns]  # metrics: linear
        self.lines = positions(self.frame, self.axes)
        brushable = [a.column for a in self.axes if a.brushable]
        self.param.axis.objects = brushable
        self.metrics = chosen  # the same list again: no event, so no second refresh
        self.axis = self.axis if self.axis in brushable else (brushable[0] if brushable else None)
        self._restore_brushes()
        self._draw_axes()
        self.redraw()

    def kept_mask(self) -> np.ndarray:
        """True for the trials the table's filters (brushes included) keep."""
        if self.frame.empty or self.state.shown_trials is None:
            return np.ones(len(self.frame), dtype=bool)
        return self.frame["trial_id"].isin(set(self.state.shown_trials)).to_numpy()

    def line_data(self) -> dict[str, dict[str, list]]:
        """The three sources' columns: kept trials (coloured by arch), filtered-out ones, and the selected one."""
        xs = list(range(len(self.axes)))
        kept = self.kept_mask()
        colors = self.frame["arch"].astype(str).map(ARCH_COLORS).fillna("#888").tolist() if "arch" in self.frame else []
        one = (self.frame["trial_id"] == self.state.trial_id).to_numpy() if len(self.frame) else kept[:0]

        def lines(mask: np.ndarray, color: bool) -> dict[str, list]:
            rows = np.flatnonzero(mask)
            return {
                "xs": [xs] * len(rows),
                "ys": [self.lines[r] for r in rows],
                "color": [colors[r] for r in rows] if color and colors else ["#0072B2"] * len(rows),
            }

        return {"kept": lines(kept, True), "out": lines(~kept, False), "one": lines(one, False)}

    def redraw(self, *_: object) -> None:
        """Split the lines by the current filters and draw them with the brushed spans."""
        data, boxes = self.line_data(), self._box_data()
        shown = int(self.kept_mask().sum())
        text = f"{shown} of {len(self.frame)} trials pass the filters" if len(self.frame) else "No trials yet."
        if self.brushes:
            text += " · brushed: " + ", ".join(f"{c} {lo:.3g}–{hi:.3g}" for c, (lo, hi) in self.brushes.items())

        def change() -> None:
            for name, columns in data.items():
                self.sources[name].data = columns
            self.boxes.data = boxes

        edit_bokeh(change)
        self.note.object = f"<span style='font-size:13px'>{text}</span>"

    def _draw_axes(self) -> None:
        count = len(self.axes)
        labels = {i: a.label for i, a in enumerate(self.axes)}
        ticks = [(i, y, t) for i, a in enumerate(self.axes) for y, t in a.ticks()]

        def change() -> None:
            self.figure.x_range.start, self.figure.x_range.end = -0.3, max(count - 0.4, 0.6)
            self.figure.xaxis.ticker = FixedTicker(ticks=list(range(count)))
            self.figure.xaxis.major_label_overrides = labels
            self.ticks.data = {"x": [t[0] for t in ticks], "y": [t[1] for t in ticks], "text": [t[2] for t in ticks]}

        edit_bokeh(change)

    # --- brushing -----------------------------------------------------------------------------------------------

    def brush(self, column: str, low: float, high: float) -> None:
        """Keep only trials with `column` in [low, high] (missing values stay), in the table and everywhere after."""
        if column not in {a.column for a in self.axes if a.brushable}:
            raise ValueError(f"{column!r} is not a numeric axis of the parallel coordinates")
        low, high = sorted((float(low), float(high)))
        self.brushes = {**self.brushes, column: (low, high)}
        slider = self.table.range_filters.get(column)
        if slider is not None:  # beta, lr: through the sidebar slider, so that it shows the brush too
            slider.value = (max(slider.start, low), min(slider.end, high))
        else:
            self.table.ranges = {**self.table.ranges, column: (low, high)}

    def clear(self) -> None:
        """Drop every brush and range filter: all trials pass again (the header filters stay)."""
        self.brushes = {}
        self.table.ranges = {}  # first: the sliders reset below then leave it unchanged, so the rows filter once
        for slider in self.table.range_filters.values():
            slider.value = (slider.start, slider.end)
        self.redraw()

    def _box_dropped(self, event: SelectionGeometry) -> None:
        geometry = event.geometry
        if not event.final or geometry.get("type") != "rect" or not self.axes:
            return
        index = round((geometry["x0"] + geometry["x1"]) / 2)
        if not 0 <= index < len(self.axes) or not self.axes[index].brushable:
            return
        axis = self.axes[index]
        self.axis = axis.column
        self.brush(axis.column, *axis.values_between(geometry["y0"], geometry["y1"]))

    def _range_typed(self, event: param.parameterized.Event) -> None:
        slider = event.obj
        if self.axis is None or getattr(self, "_syncing", False):
            return
        if event.new == (slider.start, slider.end):
            self.brushes = {k: v for k, v in self.brushes.items() if k != self.axis}
            self.table.ranges = {k: v for k, v in self.table.ranges.items() if k != self.axis}
            if self.axis in self.table.range_filters:
                self.table.range_filters[self.axis].value = (slider.start, slider.end)
            self.redraw()
            return
        self.brush(self.axis, *event.new)

    def _axis_chosen(self, *_: object) -> None:
        """Show the chosen axis's full range and its brush, if any, in the range widget."""
        if self.axis is None or self.frame.empty or self.axis not in self.frame:
            return
        values = self.frame[self.axis].dropna().astype(float)
        low, high = float(values.min()), float(values.max())
        brushed = self.brushes.get(self.axis, (low, high))
        self._syncing = True
        try:
            step = (high - low) / 1000 if high > low else 1.0
            self.range_input.param.update(label=self.axis, start=low, end=max(high, low + step), step=step)
            self.range_input.value = (max(low, brushed[0]), min(max(high, low + step), brushed[1]))
        finally:
            self._syncing = False

    def _ranges_changed(self, event: param.parameterized.Event) -> None:
        """The table's ranges are the truth: a sidebar slider moved, or a slider's brush was released."""
        sliders = set(self.table.range_filters)
        kept = {c: r for c, r in self.brushes.items() if c not in sliders}
        from_sliders = {c: tuple(r) for c, r in (event.new or {}).items() if c in sliders}
        self.brushes = {**kept, **from_sliders}
        if self.axis is not None:
            self._axis_chosen()
        self.redraw()

    def _restore_brushes(self) -> None:
        """Put back brushes the table dropped when it re-read its rows (it keeps only its sliders' ranges)."""
        columns = {a.column for a in self.axes if a.brushable}
        self.brushes = {c: r for c, r in self.brushes.items() if c in columns}
        sliders, ranges = self.table.range_filters, self.table.ranges
        missing = {c: r for c, r in self.brushes.items() if c not in ranges and c not in sliders}
        if missing:
            self.table.ranges = {**ranges, **missing}

    def _box_data(self) -> dict[str, list]:
        boxes = []
        for index, axis in enumerate(self.axes):
            if axis.column in self.brushes:
                bottom, top = axis.positions_of(*self.brushes[axis.column])
                boxes.append((index - 0.08, index + 0.08, bottom, top))
        return {key: [b[i] for b in boxes] for i, key in enumerate(("left", "right", "bottom", "top"))}

    def __panel__(self) -> pn.viewable.Viewable:
        plot = pn.Column(self.pane, sizing_mode="stretch_width", css_classes=["ls-parallel"])
        return pn.Column(self.controls, self.note, plot, sizing_mode="stretch_width")
