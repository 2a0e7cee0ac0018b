"""The trial table: every trial with its config, status and metrics; a row selects a trial."""

from __future__ import annotations

import html
import math
from functools import partial

import pandas as pd
import panel as pn
import param

from explorer.page.boxes import error_box, placeholder
from explorer.page.state import ExplorerState
from explorer.store import ResultsError, ResultsStore
from vaemodels import CONFIG_KEYS, LogRange, arch_keys, loss_name

LEADING_COLUMNS = ("trial_id", "status", "arch", "latent_dim", "beta", "best_loss", "best_epoch", "epochs_trained")
HIDDEN_COLUMNS = ("checkpoint_path", "last_checkpoint_path", "latents_path", "val_kl_per_dim", "schema_version")
# Continuous hyperparameters, a range filter each above the table: beta, lr and every log-searched architecture key.
RANGE_COLUMNS = ("beta", "lr", *(key.name for key in arch_keys() if isinstance(key.search, LogRange)))
TABLE_HEIGHT = 210  # at most (a strip over the tabs); a short sweep gets a shorter table
ROW_HEIGHT, HEADER_HEIGHT = 30, 80
# The range filters' two value boxes: they share the row's width (Panel gives each 50-65 px), no spinner arrows are
# drawn over the digits (typing and the slider set the values) and the font is a little smaller, so that a value
# such as 0.000155 shows whole beside its label.
RANGE_EDIT_CSS = """
:host(.slider-edit) { flex: 1 1 auto !important; min-width: 80px !important; }
:host(.slider-edit) .bk-input-group .bk-spin-wrapper .bk-spin-btn { display: none; }
:host(.slider-edit) .bk-input-group .bk-input { font-size: 12px; text-overflow: clip; }
"""


def plain_value_boxes(slider: pn.widgets.EditableRangeSlider) -> pn.widgets.EditableRangeSlider:
    """Value boxes that show a whole number (no spinner arrows over the digits) and share the row's width."""
    for edit in (slider._start_edit, slider._end_edit):  # Panel's own value boxes: Panel offers no style hook
        edit.stylesheets = [*edit.stylesheets, RANGE_EDIT_CSS]
    return slider


def table_columns(frame: pd.DataFrame) -> list[str]:
    """Columns shown: the key ones first, then config keys, then metrics; paths, lists and empty columns left out."""
    shown = [c for c in frame.columns if c not in HIDDEN_COLUMNS and not frame[c].isna().all()]
    leading = [c for c in LEADING_COLUMNS if c in shown]
    config = [c for c in CONFIG_KEYS if c in shown and c not in leading]
    rest = [c for c in shown if c not in leading and c not in config]
    return leading + config + rest


class TrialTable(pn.viewable.Viewer):
    """Tabulator of the sweep's trials, best `best_loss` first, with header and range filters."""

    ranges = param.Dict(default={}, doc="column -> (low, high): rows outside are hidden (missing values stay)")

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.frame: pd.DataFrame | None = None  # the store's frame; the table shows a projection in the same order
        self.error: str | None = None
        self.tabulator = pn.widgets.Tabulator(
            pd.DataFrame(),
            selectable=1,
            disabled=True,
            show_index=False,
            frozen_columns=["trial_id"],
            height=TABLE_HEIGHT,
            sizing_mode="stretch_width",
            layout="fit_data_table",
            theme="simple",
            sorters=[{"field": "best_loss", "dir": "asc"}],
        )
        self.tabulator.param.watch(self._row_selected, "selection")
        self.tabulator.add_filter(pn.bind(_within_ranges, ranges=self.param.ranges))
        # After the filter above: its watcher has updated the table's view by the time this one reads it.
        self.tabulator.param.watch(self._filters_changed, "filters")
        self.param.watch(self._filters_changed, "ranges")
        self.range_filters: dict[str, pn.widgets.EditableRangeSlider] = {}
        self.filters = pn.FlexBox(sizing_mode="stretch_width")
        self.summary = pn.pane.HTML(sizing_mode="stretch_width", margin=(0, 10))
        self._layout = pn.Column(self.summary, self.tabulator, sizing_mode="stretch_width")  # filters: the sidebar's
        state.param.watch(self._trial_changed, "trial_id")
        state.param.watch(self._sweep_changed, "sweep")
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> bool:
        """Re-read the trials table when it changed; keep the selected trial selected. True when it changed."""
        if self.state.sweep is None:
            return False
        try:
            frame = self.store.trials(self.state.sweep)
        except ResultsError as error:
            self.error, self.frame = str(error), None
            self._set_layout([error_box(self.error)])
            return True
        if frame is self.frame and not force:
            return False
        self.error, self.frame = None, frame
        self._show(frame)
        self.state.table_version += 1
        return True

    def _sweep_changed(self, *_: object) -> None:
        self.ranges = {}  # another sweep: its own full ranges
        self.refresh(force=True)

    def _show(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            self._set_layout([placeholder("This sweep has no trials yet; they appear here as they finish.")])
            return
        shown = frame[table_columns(frame)]
        updates = {"value": shown, "height": min(TABLE_HEIGHT, HEADER_HEIGHT + ROW_HEIGHT * len(shown))}
        if list(shown.columns) != list(self.tabulator.value.columns):  # a refresh keeps the person's header filters
            updates.update(
                header_filters=_header_filters(shown),
                formatters=_formatters(shown),
                titles={c: c.replace("_", " ") for c in shown.columns},
            )
        with param.parameterized.discard_events(self.tabulator):
            self.tabulator.selection = []  # positions of the old value; _trial_changed selects the trial again
        self.tabulator.param.update(**updates)
        self._update_range_filters(shown)
        self._filters_changed()
        self._set_layout([self.summary, self.tabulator])
        self._trial_changed()

    def _filters_changed(self, *_: object) -> None:
        """Tell the state which trials the header and range filters leave, and count them above the table."""
        if self.frame is None or self.frame.empty:
            return
        view = self.tabulator.current_view
        kept = None if len(view) == len(self.frame) else [str(trial) for trial in view["trial_id"]]
        if kept != self.state.shown_trials:
            self.state.shown_trials = kept
        shown = self.frame if kept is None else self.frame[self.frame["trial_id"].astype(str).isin(kept)]
        self.summary.object = _summary(shown, len(self.frame))

    def _set_layout(self, objects: list) -> None:
        if [id(o) for o in objects] != [id(o) for o in self._layout.objects]:  # a new layout re-walks every model
            self._layout.objects = objects

    def _update_range_filters(self, shown: pd.DataFrame) -> None:
        """A range slider a continuous hyperparameter that varies; a narrowed range survives a refresh."""
        sliders = {}
        for column in RANGE_COLUMNS:
            values = shown[column].dropna() if column in shown else pd.Series(dtype=float)
            if values.nunique() < 2:
                continue
            low, high = float(values.min()), float(values.max())
            slider = self.range_filters.get(column) or self._range_slider(column, low, high)
            narrowed = self.ranges.get(column)
            slider.param.update(start=low, end=high, step=_step(low, high))
            slider.value = (max(low, narrowed[0]), min(high, narrowed[1])) if narrowed else (low, high)
            sliders[column] = slider
        self.range_filters = sliders
        self.ranges = {column: value for column, value in self.ranges.items() if column in sliders}
        if list(sliders.values()) != self.filters.objects:
            self.filters.objects = list(sliders.values())

    def _range_slider(self, column: str, low: float, high: float) -> pn.widgets.EditableRangeSlider:
        step = _step(low, high)
        slider = pn.widgets.EditableRangeSlider(
            label=column, start=low, end=high, value=(low, high), step=step, width=260, format=_number_format(step)
        )
        plain_value_boxes(slider)
        slider.param.watch(partial(self._range_moved, column), "value")
        return slider

    def _range_moved(self, column: str, event: param.parameterized.Event) -> None:
        slider = event.obj
        full = event.new == (slider.start, slider.end)
        self.ranges = {k: v for k, v in {**self.ranges, column: None if full else event.new}.items() if v}

    def _row_selected(self, event: param.parameterized.Event) -> None:
        if self.frame is None or not event.new:
            return
        trial_id = str(self.tabulator.value.iloc[event.new[0]]["trial_id"])  # selection holds positions in value
        if trial_id != self.state.trial_id:
            self.state.trial_id = trial_id

    def _trial_changed(self, *_: object) -> None:
        """Select the state's trial in the table (e.g. after a click in the sweep overview)."""
        value = self.tabulator.value
        if value is None or "trial_id" not in value:
            return
        positions = [int(p) for p in (value["trial_id"] == self.state.trial_id).to_numpy().nonzero()[0]]
        if positions != self.tabulator.selection:
            self.tabulator.selection = positions

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


def _summary(frame: pd.DataFrame, total: int) -> str:
    """One line above the table: how many of the `total` trials the filters show, in which status, and the best."""
    counts = frame["status"].value_counts() if "status" in frame else pd.Series(dtype=int)
    statuses = ", ".join(f"{n} {status.lower()}" for status, n in counts.items())
    how_many = f"{len(frame)} trials" if len(frame) == total else f"{len(frame)} of {total} trials shown"
    text = f"<b>{how_many}</b> ({statuses})" if statuses else f"<b>{how_many}</b>"
    if "best_loss" in frame and frame["best_loss"].notna().any():
        best = frame.loc[frame["best_loss"].idxmin()]
        what = html.escape(loss_name(best.get("recon")))
        trial = html.escape(str(best["trial_id"]))
        text += f" · best: <code>{trial}</code>, best_loss {best['best_loss']:.4g} ({what})"
    return f"<div style='font-size:14px;color:#333'>{text}</div>"


def _step(low: float, high: float) -> float:
    """A slider step of about a thousandth of the range, rounded to a power of ten."""
    return 10 ** math.floor(math.log10(max(high - low, 1e-12) / 1000))


def _number_format(step: float) -> str:
    """A numbro format showing the digits a step needs (0.001 -> '0.000')."""
    decimals = max(0, -math.floor(math.log10(step)))
    return "0." + "0" * decimals if decimals else "0"


def _within_ranges(frame: pd.DataFrame, ranges: dict) -> pd.Series:
    """Rows whose value lies inside every column's range; a missing value (not applicable) passes."""
    mask = pd.Series(True, index=frame.index)
    for column, (low, high) in ranges.items():
        if column in frame:
            mask &= frame[column].isna() | frame[column].between(low, high)
    return mask


def _header_filters(frame: pd.DataFrame) -> dict:
    filters = {}
    for column in frame.columns:
        kind = frame[column].dtype.kind
        if kind in "iu":
            filters[column] = {"type": "number", "func": "=", "placeholder": "="}
        elif kind == "f":
            filters[column] = {"type": "number", "func": "<=", "placeholder": "≤"}
        elif kind == "b":
            filters[column] = "tickCross"
        else:
            filters[column] = {"type": "input", "func": "like", "placeholder": "contains"}
    return filters


def _formatters(frame: pd.DataFrame) -> dict:
    from bokeh.models.widgets.tables import NumberFormatter

    return {
        column: NumberFormatter(format="0.[0000]", nan_format="–")
        for column in frame.columns
        if frame[column].dtype.kind == "f"
    }
