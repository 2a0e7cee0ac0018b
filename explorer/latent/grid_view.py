"""The traversal grid: each row one coordinate swept across its slider range from the current point."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import panel as pn

from explorer.images import tile, to_png
from explorer.latent.state import LatentState
from vaemodels import (
    GridLabels,
    export_scale,
    labelled_grid,
    start_text,
    sweep_gif,
    traversal_images,
    traversal_title,
    traversal_values,
)

MAX_GRID_ROWS = 32
SHOWN_WIDTH = 1000  # at most this many pixels across on the page; the downloads keep the full size


class TraversalGridView(pn.viewable.Viewer):
    """Each row one coordinate swept across its slider range from the current point, labelled with the coordinate
    and its values; downloadable as a full-size PNG, and one row's sweep as an animated GIF."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.png: bytes | None = None
        self.grid: np.ndarray | None = None  # the unlabelled tiles, one decoded pixel a pixel
        self.picture: np.ndarray | None = None  # the labelled, upscaled picture that the PNG holds
        self.images: np.ndarray | None = None  # (rows * steps, H, W[, C]) the decoded images
        self.labels: GridLabels | None = None
        self.shown_rows: list[int] = []  # the coordinate of each row
        self.rows = pn.widgets.IntSlider(label="Rows (SPLOM order)", start=1, end=2, value=2, width=200)
        self.steps = pn.widgets.IntSlider(label="Steps", start=3, end=20, value=10, width=200)
        self.button = pn.widgets.Button(label="Redraw from the current point")
        self.pane = pn.pane.PNG(None, css_classes=["ls-grid"])
        self.download = pn.widgets.FileDownload(callback=self._file, filename="traversal.png", label="Download PNG")
        self.gif_row = pn.widgets.Select(label="Animate", width=150)
        self.gif_download = pn.widgets.FileDownload(
            callback=self._gif_file, filename="traversal.gif", label="Download GIF", css_classes=["ls-grid-gif"]
        )
        self.button.on_click(lambda _: self.refresh())
        for widget in (self.rows, self.steps):
            widget.param.watch(lambda *_: self.refresh(), "value_throttled")
        self.gif_row.param.watch(self._gif_row_changed, "value")
        state.param.watch(self._reset_rows, ["trial_version", "mode", "n_components"])
        state.param.watch(lambda *_: self.refresh(), ["current_row", "dims", "range_kind", "range_k", "label"])

    def row_order(self) -> list[int]:
        """The SPLOM's dimensions first, then the others in KL (or component) order."""
        shown = [d for d in self.state.dims if d < self.state.n_coordinates]
        return (shown + [d for d in self.state.order if d not in shown])[: self.rows.value]

    def refresh(self) -> None:
        """Decode the grid in one batch, label it and show it."""
        s = self.state
        if s.trial is None:
            return
        rows, steps = self.row_order(), self.steps.value
        ranges = s.slider_ranges()[rows]
        self.images = traversal_images(s.model, s.current_z, s.axes[rows], s.point[rows], ranges, steps, s.label)
        self.grid = tile(self.images, len(rows), steps)
        names, notes = s.coordinate_names, s.coordinate_notes
        rows_text = tuple(f"{names[k]}\n{notes[k]}" for k in rows)
        self.labels = GridLabels(rows_text, traversal_values(ranges, steps), self.title())
        self.shown_rows = rows
        self.download.filename = f"traversal-{s.trial.path.name}.png"
        self.picture = labelled_grid(self.images, self.labels, self.scale)
        self.png = to_png(self.picture)
        self.pane.param.update(object=self.png, width=min(self.picture.shape[1], SHOWN_WIDTH))
        options = {names[k]: k for k in rows}
        if self.gif_row.value not in rows:
            self.gif_row.param.update(options=options, value=rows[0])
        else:
            self.gif_row.options = options
        self._gif_row_changed()

    def title(self) -> tuple[str, str]:
        """The picture's title: the sweep and trial (the trial folder and the folder above it), and the start."""
        s = self.state
        return traversal_title(s.trial.path.parent.name, s.trial.path.name, self.start(), s.range_kind)

    def start(self) -> str:
        """Where the grid starts: a sample's mean, the origin, or a point the sliders moved to."""
        s, z = self.state, np.asarray(self.state.current_z)
        label = s.label if s.conditional else None
        if s.current_row is not None and np.array_equal(z, s.mu[s.current_row]):
            return start_text(s.current_row, int(s.latents["sample"].iloc[s.current_row]), label)
        return start_text(None, label=label) if not z.any() else "the point the sliders set"

    @property
    def scale(self) -> int:
        """The whole factor the exported tiles are upscaled by."""
        return export_scale(self.state.model.config.data.image_size)

    def gif(self, coordinate: int) -> bytes:
        """The animated sweep of one of the grid's rows (by its coordinate), at the grid's full size."""
        if self.images is None or coordinate not in self.shown_rows:
            raise ValueError(f"coordinate {coordinate} is not a row of the traversal grid ({self.shown_rows})")
        row, steps = self.shown_rows.index(coordinate), self.steps.value
        name = self.state.coordinate_names[coordinate]
        images = self.images[row * steps : (row + 1) * steps]
        return sweep_gif(images, name, self.labels.values[row], self.scale, self.labels.title)

    def _gif_row_changed(self, *_: Any) -> None:
        if self.gif_row.value is not None:
            name = self.state.coordinate_names[self.gif_row.value]
            self.gif_download.filename = f"traversal-{self.state.trial.path.name}-{name}.gif"

    def _reset_rows(self, *_: Any) -> None:
        if self.state.trial is not None:
            n = min(self.state.n_coordinates, MAX_GRID_ROWS)
            self.rows.param.update(start=1, end=max(n, 2), value=n)
            self.refresh()

    def _file(self) -> io.BytesIO:
        return io.BytesIO(self.png or b"")

    def _gif_file(self) -> io.BytesIO:
        value = self.gif_row.value
        return io.BytesIO(self.gif(value) if value is not None and self.images is not None else b"")

    def __panel__(self) -> pn.viewable.Viewable:
        exports = pn.Row(self.download, self.gif_row, self.gif_download)
        return pn.Column(pn.Row(self.rows, self.steps, self.button), exports, self.pane)
