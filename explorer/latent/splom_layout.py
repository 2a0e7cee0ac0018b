"""Where each cell of the SPLOM lies in its composite image, and the plot range of each coordinate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DIMS = 32
# Names and ticks are Bokeh axes around the image (explorer.latent.splom_axes), so the image needs no margin for them;
# one pixel a side holds the cells' frames.
EDGE = 1
GAP = 3


SHOWN_SIZE = 340  # screen pixels a side the SPLOM's image is shown at (explorer.latent.splom_view)


def default_cell(n_dims: int) -> int:
    """Cell size in pixels: the image about as wide as it is shown, one image pixel a screen pixel (a scaled image
    drops or doubles rows of pixels, which breaks thin lines into dashes); cells 8 to 240 pixels."""
    n = max(n_dims, 1)
    return int(np.clip((SHOWN_SIZE - 2 * EDGE - (n - 1) * GAP) // n, 8, 240))


def axis_ranges(columns: np.ndarray, prior_span: float = 1.0) -> np.ndarray:
    """(k, 2) plot ranges: the 0.1-99.9th percentiles padded by 5%, widened to cover +-prior_span.

    Covering the prior's +-1 std keeps a collapsed dimension (means all near 0) a thin line, as it should look.
    """
    stride = max(1, columns.shape[1] // 200_000)  # percentiles of a strided subsample: fast at a million rows
    sample = columns[:, ::stride]
    if sample.shape[1] == 0:
        return np.tile([-prior_span, prior_span], (len(columns), 1))
    lo, hi = np.percentile(sample, [0.1, 99.9], axis=1)
    pad = 0.05 * np.maximum(hi - lo, 1e-6)
    return np.stack([np.minimum(lo - pad, -prior_span), np.maximum(hi + pad, prior_span)], axis=1)


@dataclass(frozen=True)
class SplomLayout:
    """Where each cell of an n x n lower-triangle matrix lies in the composite, in pixels from the top left."""

    dims: tuple[int, ...]  # the shown coordinates (indices into the embedding's columns), top to bottom
    names: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]  # one (lo, hi) a shown coordinate
    cell: int

    @property
    def n(self) -> int:
        """How many coordinates the matrix shows."""
        return len(self.dims)

    @property
    def width(self) -> int:
        """Pixels across, edges included."""
        return 2 * EDGE + self.n * self.cell + (self.n - 1) * GAP

    @property
    def height(self) -> int:
        """Pixels down, edges included."""
        return 2 * EDGE + self.n * self.cell + (self.n - 1) * GAP

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """(top, left) pixel of a cell."""
        return EDGE + row * (self.cell + GAP), EDGE + col * (self.cell + GAP)

    def pairs(self) -> list[tuple[int, int]]:
        """The lower-triangle cells as (row, col): row's coordinate on y, col's on x."""
        return [(row, col) for row in range(self.n) for col in range(row)]

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (row, col) under a point given in plot units (origin bottom left, y up), or None."""
        left, top = x - EDGE, self.height - y - EDGE
        col, row = int(left // (self.cell + GAP)), int(top // (self.cell + GAP))
        pitch = self.cell + GAP
        in_cell = left >= 0 and top >= 0 and left % pitch < self.cell and top % pitch < self.cell
        return (row, col) if in_cell and row < self.n and col <= row else None

    def to_value(self, offset: float, position: int, axis: str) -> float:
        """A pixel offset within a cell (from the left for `x`, the top for `y`) -> the coordinate value there."""
        lo, hi = self.ranges[position]
        fraction = offset / self.cell if axis == "x" else 1.0 - offset / self.cell
        return lo + fraction * (hi - lo)

    def to_pixel(self, value: float, position: int, axis: str) -> float:
        """A coordinate value -> pixel offset within a cell (from the left for `x`, the top for `y`), kept inside it."""
        lo, hi = self.ranges[position]
        fraction = min(max((value - lo) / (hi - lo), 0.0), 1.0)
        return fraction * self.cell if axis == "x" else (1.0 - fraction) * self.cell


@dataclass(frozen=True)
class SplomImage:
    """A rendered composite and the layout that maps pixels back to cells and values."""

    rgba: np.ndarray  # (height, width, 4) uint8, row 0 at the top
    layout: SplomLayout
