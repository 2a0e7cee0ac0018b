"""The traversal grid: each row one coordinate swept across its slider range from the current point."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import panel as pn

from explorer.images import to_png, upscale_factor
from explorer.latent.state import LatentState
from explorer.latent.traversal import GRID_TILE, traversal_grid

MAX_GRID_ROWS = 32


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
