"""The traversal sliders: one slider a coordinate (latent dimension by KL, or principal component), ranges, resets.

Sliders are watched on `value` (which changes while dragging), not `value_throttled` (only on release); the decoded
image redraws through `LatestOnly`, so a drag never queues stale decodes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import panel as pn
import param

from explorer.latent.state import LatentState

SLIDER_STEPS = 200  # slider resolution across its range


class TraversalSliders(pn.viewable.Viewer):
    """One slider a coordinate (latent dimension by KL, or principal component), ranges and resets."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.sliders: dict[int, pn.widgets.FloatSlider] = {}  # coordinate index -> its slider
        self._pool: list[pn.widgets.FloatSlider] = []  # every slider made so far; the first len(order) are shown
        self._order: list[int] = []  # the coordinate each shown slider moves, by position
        self.on_release: list[Callable[[], None]] = []  # called when a slider is let go
        self._syncing = False
        self.column = pn.Column(scroll=True, max_height=420, width=310)
        self.range_kind = pn.widgets.Select.from_param(state.param.range_kind, label="Slider range", width=150)
        self.range_k = pn.widgets.FloatInput.from_param(state.param.range_k, label="class k (std)", width=110)
        self.resets = {
            "Origin": state.go_to_origin,
            "Picked sample": lambda: state.current_row is not None and state.go_to_row(state.current_row),
            "Selection centroid": state.go_to_centroid,
        }
        self.buttons = [pn.widgets.Button(label=name, width=100) for name in self.resets]
        for button in self.buttons:
            button.on_click(lambda event: self.resets[event.obj.label]())
        state.param.watch(self.build, ["trial_version", "mode", "n_components"])
        state.param.watch(self.update_ranges, ["range_kind", "range_k", "current_row"])
        state.param.watch(self.sync_values, ["current_z"])

    def build(self, *_: Any) -> None:
        """One slider a coordinate in use, in display order, at the current point.

        The slider widgets are kept and reconfigured: new widgets would make the loop build new Bokeh models for the
        whole column at each trial switch (0.2-0.5 s here), where changing a few properties costs milliseconds.
        """
        s = self.state
        if s.trial is None:
            return
        ranges, point, names, notes = s.slider_ranges(), s.point, s.coordinate_names, s.coordinate_notes
        order = list(s.order)
        self._grow_pool(len(order))
        self._syncing = True
        try:
            for position, k in enumerate(order):
                lo, hi = ranges[k]
                top = ["ls-slider-top"] if position == 0 else []  # the highest-KL (or first) coordinate's slider
                css = [f"ls-slider-{names[k].lower() if s.mode == 'pca' else k}", *top]
                self._pool[position].param.update(
                    label=f"{names[k]} ({notes[k]})", start=lo, end=hi, step=(hi - lo) / SLIDER_STEPS,
                    value=float(point[k]), css_classes=css,
                )  # fmt: skip
        finally:
            self._syncing = False
        self._order = order
        self.sliders = {k: self._pool[position] for position, k in enumerate(order)}
        shown = self._pool[: len(order)]
        if self.column.objects != shown:
            self.column[:] = shown

    def _grow_pool(self, n: int) -> None:
        """Make sliders until there are n; each moves the coordinate of its position in `_order`."""
        while len(self._pool) < n:
            slider = pn.widgets.FloatSlider(start=0.0, end=1.0, value=0.0, width=280)
            slider.param.watch(partial(self._moved, len(self._pool)), "value")
            slider.param.watch(self._released, "value_throttled")
            self._pool.append(slider)

    def update_ranges(self, *_: Any) -> None:
        """Apply the chosen range kind to every slider."""
        if self.state.trial is None or set(self.sliders) != set(range(self.state.n_coordinates)):
            return  # the sliders of another trial or space, about to be rebuilt (with the new ranges)
        ranges = self.state.slider_ranges()
        self._syncing = True
        try:
            for k, slider in self.sliders.items():
                lo, hi = ranges[k]
                slider.param.update(start=lo, end=hi, step=(hi - lo) / SLIDER_STEPS)
        finally:
            self._syncing = False

    def sync_values(self, *_: Any) -> None:
        """Move the sliders to the current point (a click, a reset), widening a range that does not contain it."""
        if self.state.trial is None or set(self.sliders) != set(range(self.state.n_coordinates)):
            return  # the sliders of another trial or space, about to be rebuilt
        point = self.state.point
        self._syncing = True
        try:
            for k, slider in self.sliders.items():
                value = float(point[k])
                if abs(slider.value - value) <= 1e-9 * max(1.0, abs(value)):
                    continue  # the slider being dragged already shows it
                slider.param.update(start=min(slider.start, value), end=max(slider.end, value), value=value)
        finally:
            self._syncing = False

    def _moved(self, position: int, event: param.parameterized.Event) -> None:
        if not self._syncing and position < len(self._order):
            self.state.set_coordinate(self._order[position], float(event.new))

    def _released(self, *_: Any) -> None:
        for callback in self.on_release:
            callback()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.range_kind, self.range_k), pn.Row(*self.buttons), self.column)
