"""Panel views of decoding: traversal sliders, the live decoded image, the picked sample's panel, grid, interpolation.

Sliders are watched on `value` (which changes while dragging), not `value_throttled` (only on release); the decoded
image redraws through `LatestOnly`, so a drag never queues stale decodes.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import panel as pn
import param

from explorer.latent_state import LatentState
from explorer.scheduling import LatestOnly
from explorer.traversal import (
    class_strip,
    decode,
    interpolation_strip,
    to_png,
    to_uint8,
    traversal_grid,
    upscale_factor,
)
from vaemodels import DatasetUnavailable, load_samples

SLIDER_STEPS = 200  # slider resolution across its range
GRID_TILE = 64  # pixels a side of one grid image
MAX_GRID_ROWS = 32


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
        self.column = pn.Column(scroll=True, max_height=560, width=330)
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
            slider = pn.widgets.FloatSlider(start=0.0, end=1.0, value=0.0, width=300)
            slider.param.watch(partial(self._moved, len(self._pool)), "value")
            slider.param.watch(self._released, "value_throttled")
            self._pool.append(slider)

    def update_ranges(self, *_: Any) -> None:
        """Apply the chosen range kind to every slider."""
        if self.state.trial is None:
            return
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


class DecodedView(pn.viewable.Viewer):
    """The current point decoded live; for conditional decoders, the class it is given and the same z in every class."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.image: np.ndarray | None = None  # the last decoded image, uint8
        self.pane = pn.pane.PNG(None, css_classes=["ls-decoded"], width=200, height=200)
        self.label = pn.widgets.Select(label="Decoder class", width=150, visible=False)
        self.strip = pn.pane.PNG(None, css_classes=["ls-class-strip"], visible=False)
        self.label.param.watch(self._label_chosen, "value")
        self._refresh_later = LatestOnly(self.refresh, off_loop=True)  # decoding and PNG encoding: no models
        state.param.watch(self._refresh_later, ["current_z", "label", "trial_version"])
        state.param.watch(self._sync_label, ["trial_version", "label"])

    def refresh(self) -> None:
        """Decode the current point and show it (and the class strip)."""
        s = self.state
        if s.trial is None:
            return
        self.image = s.decode_current()
        self.pane.object = to_png(self.image, upscale_factor(self.image.shape[0], 192))
        if s.conditional:
            strip = class_strip(s.model, s.current_z, s.trial.config.num_classes)
            self.strip.object = to_png(strip, upscale_factor(self.image.shape[0], GRID_TILE))

    def _sync_label(self, *_: Any) -> None:
        s = self.state
        self.label.visible = self.strip.visible = s.trial is not None and s.conditional
        if self.label.visible:
            self.label.options = list(range(s.trial.config.num_classes))
            self.label.value = s.label

    def _label_chosen(self, event: param.parameterized.Event) -> None:
        if self.state.trial is not None and event.new is not None:
            self.state.label = int(event.new)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.pane, self.label, self.strip)


class SampleInfoView(pn.viewable.Viewer):
    """The picked sample: original image, reconstruction, its coordinates beside its class's mean and std."""

    def __init__(self, state: LatentState, data_dir: str | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.data_dir = data_dir
        self.original = pn.pane.PNG(None, css_classes=["ls-original"], width=112, height=112)
        self.reconstruction = pn.pane.PNG(None, css_classes=["ls-reconstruction"], width=112, height=112)
        self.message = pn.pane.Markdown("Click a point in the focus plot to see that sample.")
        self.table = pn.pane.DataFrame(None, css_classes=["ls-info"], index=True, float_format="{:.3f}".format)
        self.latent_table = pn.pane.DataFrame(None, index=True, float_format="{:.3f}".format, visible=False)
        self.original_image: np.ndarray | None = None
        state.param.watch(self.refresh, ["current_row", "trial_version", "mode", "n_components", "label"])

    def refresh(self, *_: Any) -> None:
        """Show the picked sample (or the decoder's class statistics when none is picked)."""
        s = self.state
        if s.trial is None:
            return
        row = s.current_row
        label = int(s.labels[row]) if row is not None else s.label
        mean, std = s.class_statistics(label if (s.labels == label).any() else None)
        columns = {"class mean": mean, "class std": std}
        if row is not None:
            columns = {"sample": s.columns[: s.n_coordinates, row], **columns}
            self._show_images(row)
        self.table.object = pd.DataFrame(columns, index=s.coordinate_names[: s.n_coordinates])
        self.latent_table.visible = s.mode == "pca" and row is not None
        if self.latent_table.visible:
            self.latent_table.object = pd.DataFrame({"z": s.mu[row]}, index=[f"z{i}" for i in range(s.latent_dim)])

    def _show_images(self, row: int) -> None:
        s = self.state
        sample_id, label = int(s.latents["sample"].iloc[row]), int(s.labels[row])
        recon = decode(s.model, s.mu[row], label)[0]
        scale = upscale_factor(recon.shape[0], 112)
        self.reconstruction.object = to_png(recon, scale)
        header = f"**Sample {sample_id}**, class {label if label >= 0 else 'none'}"
        try:
            self.original_image = to_uint8(self._load_original(row))[0]
            self.original.object = to_png(self.original_image, scale)
            self.message.object = f"{header}: original (left) and reconstruction (right)."
        except (DatasetUnavailable, OSError, ValueError) as error:
            self.original_image, self.original.object = None, None
            self.message.object = f"{header}. The original image cannot be shown: {error}"

    def _load_original(self, row: int) -> np.ndarray:
        """(1, C, H, W) float image of a latents row; shapes are rendered from the row's factor columns."""
        s = self.state
        config = s.trial.config if self.data_dir is None else s.trial.config.replace(data_dir=str(self.data_dir))
        factors = s.latents[s.factor_names].to_numpy()[[row]] if s.factor_names else None
        return load_samples(config, s.latents["sample"].to_numpy()[[row]], factors)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.original, self.reconstruction), self.message, self.table, self.latent_table)


class TraversalGridView(pn.viewable.Viewer):
    """Each row one coordinate swept across its slider range from the current point; downloadable as PNG."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.png: bytes | None = None
        self.grid: np.ndarray | None = None
        self.rows = pn.widgets.IntSlider(label="Rows (SPLOM order)", start=1, end=2, value=2, width=200)
        self.steps = pn.widgets.IntSlider(label="Steps", start=3, end=20, value=10, width=200)
        self.button = pn.widgets.Button(label="Redraw from the current point")
        self.pane = pn.pane.PNG(None, css_classes=["ls-grid"])
        self.download = pn.widgets.FileDownload(callback=self._file, filename="traversal.png", label="Download PNG")
        self.button.on_click(lambda _: self.refresh())
        for widget in (self.rows, self.steps):
            widget.param.watch(lambda *_: self.refresh(), "value_throttled")
        state.param.watch(self._reset_rows, ["trial_version", "mode", "n_components"])
        state.param.watch(lambda *_: self.refresh(), ["current_row", "dims", "range_kind", "range_k", "label"])

    def row_order(self) -> list[int]:
        """The SPLOM's dimensions first, then the others in KL (or component) order."""
        shown = [d for d in self.state.dims if d < self.state.n_coordinates]
        return (shown + [d for d in self.state.order if d not in shown])[: self.rows.value]

    def refresh(self) -> None:
        """Decode the grid in one batch and show it."""
        s = self.state
        if s.trial is None:
            return
        rows = self.row_order()
        ranges = s.slider_ranges()[rows]
        self.grid = traversal_grid(s.model, s.current_z, s.axes[rows], s.point[rows], ranges, self.steps.value, s.label)
        tile_size = s.model.config.data.image_size
        self.png = to_png(self.grid, upscale_factor(tile_size, GRID_TILE))
        self.pane.object = self.png

    def _reset_rows(self, *_: Any) -> None:
        if self.state.trial is not None:
            n = min(self.state.n_coordinates, MAX_GRID_ROWS)
            self.rows.param.update(start=1, end=max(n, 2), value=n)
            self.refresh()

    def _file(self) -> io.BytesIO:
        return io.BytesIO(self.png or b"")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.rows, self.steps, self.button, self.download), self.pane)


class InterpolationView(pn.viewable.Viewer):
    """The straight line between two chosen points (picked samples or selection centroids), decoded as a strip."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.ends: dict[str, tuple[np.ndarray, str]] = {}  # "A"/"B" -> (z, what it is)
        self.strip: np.ndarray | None = None
        self.steps = pn.widgets.IntSlider(label="Steps", start=2, end=20, value=10, width=200)
        self.pane = pn.pane.PNG(None, css_classes=["ls-interpolation"])
        self.message = pn.pane.Markdown("Set both ends: pick a sample, or select some, then press a button.")
        buttons = []
        for end in ("A", "B"):
            for what in ("picked sample", "selection centroid"):
                button = pn.widgets.Button(label=f"{end} = {what}")
                button.on_click(partial(lambda _, end, what: self.set_end(end, what), end=end, what=what))
                buttons.append(button)
        self.buttons = buttons
        self.steps.param.watch(lambda *_: self.refresh(), "value_throttled")
        state.param.watch(lambda *_: self.ends.clear(), ["trial_version"])

    def set_end(self, end: str, what: str) -> None:
        """Make the picked sample or the selection's centroid one end of the line."""
        s = self.state
        if what == "picked sample":
            if s.current_row is None:
                self.message.object = "Pick a sample in the focus plot first."
                return
            self.ends[end] = (
                s.mu[s.current_row].astype(np.float64),
                f"sample {s.latents['sample'].iloc[s.current_row]}",
            )
        else:
            if s.selection is None or not s.selection.any():
                self.message.object = "Select some samples first."
                return
            self.ends[end] = (
                s.mu[s.selection].mean(axis=0).astype(np.float64),
                f"{s.selection.sum()} samples' centroid",
            )
        self.refresh()

    def refresh(self) -> None:
        """Decode the line between A and B when both are set."""
        if self.state.trial is None or len(self.ends) < 2:
            return
        (z_a, what_a), (z_b, what_b) = self.ends["A"], self.ends["B"]
        self.strip = interpolation_strip(self.state.model, z_a, z_b, self.steps.value, self.state.label)
        self.pane.object = to_png(self.strip, upscale_factor(self.state.model.config.data.image_size, GRID_TILE))
        self.message.object = f"From A ({what_a}) to B ({what_b})."

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(*self.buttons), self.steps, self.message, self.pane)
