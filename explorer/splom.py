"""The SPLOM of a latent space as ONE composite datashader image: no per-panel figures, no link_selections.

Each lower-triangle cell is `Canvas.points` over a 2-column frame whose columns are always named x/y (datashader
compiles one kernel per set of column names, so fixed names keep every pair after the first cheap); x carries the
sample's category too (see `SplomRenderer._coded_x`). All cells are shaded by a single `tf.shade` call on the stacked
aggregates, so every cell shares one colour scale.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import datashader as ds
import datashader.transfer_functions as tf
import numpy as np
import pandas as pd
import xarray as xr
from bokeh.palettes import Category10, Category20, Viridis256

from explorer.splom_draw import BACKGROUND, draw_diagonal, draw_labels, on_background, over

MAX_DIMS = 32
MAX_CATEGORIES = 12  # a column with more distinct values is coloured as a continuous value, in bins
VALUE_BINS = 16
SINGLE_COLOUR = "#1f77b4"
UNSELECTED_CMAP = ["#e3e3e3", "#9a9a9a"]  # samples outside the selection: light grey
LEFT_MARGIN = BOTTOM_MARGIN = 34  # room for the names; equal, so that the composite is square
GAP = 3
POINTS_PER_CALL = 500_000  # below this many points a pair, datashader's fixed cost a call dominates: batch pairs
SPREAD_PX = 1  # points of sparse cells grow by this many pixels a side (tf.spread), so that few samples stay visible
SPARSE_SAMPLES = 5_000  # samples a cell below which it counts as sparse
AGGREGATION_THREADS = min(4, os.cpu_count() or 1)
_POOL = ThreadPoolExecutor(AGGREGATION_THREADS, thread_name_prefix="splom")


@dataclass(frozen=True)
class Colouring:
    """What colour each sample gets: a category code a sample, with a name and a colour a category."""

    column: str  # a latents column, or "none"
    codes: np.ndarray  # (N,) int16 in 0..K-1
    names: tuple[str, ...]
    colors: tuple[str, ...]  # "#rrggbb", one a category
    continuous: bool = False  # categories are equal-width bins of a continuous value


def make_colouring(latents: pd.DataFrame, column: str) -> Colouring:
    """Colour by a column: categories for up to MAX_CATEGORIES integer values, else VALUE_BINS value bins."""
    if column == "none":
        return Colouring("none", np.zeros(len(latents), np.int16), ("all samples",), (SINGLE_COLOUR,))
    if column not in latents.columns:
        raise KeyError(f"cannot colour by {column!r}: the latents table has no such column")
    values = latents[column].to_numpy()
    unique = np.unique(values)
    if len(unique) <= MAX_CATEGORIES and np.all(np.mod(unique, 1) == 0):
        codes = np.searchsorted(unique, values).astype(np.int16)
        palette = Category10[10] if len(unique) <= 10 else Category20[20]
        names = tuple("none" if column == "label" and v < 0 else str(int(v)) for v in unique)
        return Colouring(column, codes, names, tuple(palette[: len(unique)]))
    lo, hi = (float(unique[0]), float(unique[-1])) if len(unique) else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, VALUE_BINS + 1)
    codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, VALUE_BINS - 1).astype(np.int16)
    names = tuple(f"{edges[b]:.3g}–{edges[b + 1]:.3g}" for b in range(VALUE_BINS))
    colors = tuple(Viridis256[round(b * 255 / (VALUE_BINS - 1))] for b in range(VALUE_BINS))
    return Colouring(column, codes, names, colors, continuous=True)


def default_cell(n_dims: int) -> int:
    """Cell size in pixels: the matrix stays about 900 pixels wide (it is shown ~760 wide), cells 32 to 160 pixels."""
    return int(np.clip(900 // max(n_dims, 1), 32, 160))


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
        """Pixels across, margin included."""
        return LEFT_MARGIN + self.n * self.cell + (self.n - 1) * GAP

    @property
    def height(self) -> int:
        """Pixels down, margin included."""
        return self.n * self.cell + (self.n - 1) * GAP + BOTTOM_MARGIN

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """(top, left) pixel of a cell."""
        return row * (self.cell + GAP), LEFT_MARGIN + col * (self.cell + GAP)

    def pairs(self) -> list[tuple[int, int]]:
        """The lower-triangle cells as (row, col): row's coordinate on y, col's on x."""
        return [(row, col) for row in range(self.n) for col in range(row)]

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (row, col) under a point given in plot units (origin bottom left, y up), or None."""
        left, top = x - LEFT_MARGIN, self.height - y
        col, row = int(left // (self.cell + GAP)), int(top // (self.cell + GAP))
        pitch = self.cell + GAP
        in_cell = left >= 0 and top >= 0 and left % pitch < self.cell and top % pitch < self.cell
        return (row, col) if in_cell and row < self.n and col <= row else None

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


class SplomRenderer:
    """Renders composites of one embedding and one colouring; caches each pair's aggregate."""

    def __init__(
        self,
        columns: np.ndarray,
        names: list[str],
        colouring: Colouring,
        ranges: np.ndarray | None = None,
        notes: list[str] | None = None,
        prior_centers: np.ndarray | None = None,
    ) -> None:
        self.columns = np.ascontiguousarray(columns, dtype=np.float32)  # (k, N): one contiguous row a coordinate
        self.names = list(names)
        self.colouring = colouring
        self.ranges = axis_ranges(self.columns) if ranges is None else np.asarray(ranges, dtype=np.float64)
        self.notes = notes or [""] * len(self.names)  # written in each diagonal cell, e.g. "KL 2.31"
        # Where the N(0, I) prior's mean lies on each coordinate: 0 for latent dimensions, -mean . axis for components.
        self.prior_centers = np.zeros(len(self.names)) if prior_centers is None else np.asarray(prior_centers)
        self._pair_cache: dict[tuple[int, int, int], np.ndarray] = {}
        self._coded_cache: dict[int, np.ndarray] = {}
        self._hist_cache: dict[tuple[int, int], np.ndarray] = {}

    def layout(self, dims: list[int], cell: int | None = None) -> SplomLayout:
        """The layout of a matrix of the given coordinates."""
        if not 1 <= len(dims) <= MAX_DIMS:
            raise ValueError(f"a SPLOM shows 1 to {MAX_DIMS} dimensions, got {len(dims)}")
        bad = [d for d in dims if not 0 <= d < len(self.names)]
        if bad:
            raise ValueError(f"dimension {bad[0]} does not exist: the embedding has {len(self.names)} coordinates")
        return SplomLayout(
            tuple(int(d) for d in dims),
            tuple(self.names[d] for d in dims),
            tuple((float(lo), float(hi)) for lo, hi in self.ranges[list(dims)]),
            cell or default_cell(len(dims)),
        )

    def render(
        self,
        dims: list[int],
        hidden: tuple[int, ...] = (),
        selection: np.ndarray | None = None,
        cell: int | None = None,
    ) -> SplomImage:
        """The composite: pairs below the diagonal, histograms (with the N(0, 1) prior) on it, names at the edges."""
        layout = self.layout(dims, cell)
        visible = np.ones(len(self.colouring.names), bool)
        visible[list(hidden)] = False
        canvas = np.empty((layout.height, layout.width, 3), np.uint8)
        canvas[:] = BACKGROUND
        pairs = layout.pairs()
        if pairs:
            counts = self._counts(layout, pairs)  # (P, cell, cell, K)
            if selection is None:
                cells = shade_categories(counts * visible, self.colouring)
            else:
                chosen = self._selection_counts(layout, pairs, selection)  # (P, cell, cell, K)
                grey = shade_grey((counts * visible).sum(-1))
                cells = over(grey, shade_categories(chosen * visible, self.colouring))
            for (row, col), rgba in zip(pairs, cells):
                top, left = layout.origin(row, col)
                canvas[top : top + layout.cell, left : left + layout.cell] = on_background(rgba[::-1])  # y up -> down
        histograms = [self._histogram(d, layout.cell)[visible].sum(0) for d in layout.dims]
        chosen_hist = self._selection_histograms(layout, selection, visible) if selection is not None else None
        image = draw_diagonal(canvas, layout, histograms, chosen_hist, self.prior_centers[list(layout.dims)])
        rgb = draw_labels(image, layout, [self.notes[d] for d in layout.dims])
        rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=2)
        return SplomImage(rgba, layout)

    def _counts(self, layout: SplomLayout, pairs: list[tuple[int, int]]) -> np.ndarray:
        """(P, cell, cell, K) counts of every sample for the pairs; each pair aggregated once and cached."""
        keys = [(layout.dims[col], layout.dims[row], layout.cell) for row, col in pairs]
        missing = [pair for pair, key in zip(pairs, keys) if key not in self._pair_cache]
        xs = [self._coded_x(d) for d in layout.dims]
        ys = [self.columns[d] for d in layout.dims]
        for (row, col), counts in zip(missing, _aggregate_pairs(layout, missing, xs, ys, len(self.colouring.names))):
            self._pair_cache[(layout.dims[col], layout.dims[row], layout.cell)] = counts
        return np.stack([self._pair_cache[key] for key in keys])

    def _selection_counts(self, layout: SplomLayout, pairs: list[tuple[int, int]], selection: np.ndarray) -> np.ndarray:
        xs = [self._coded_x(d)[selection] for d in layout.dims]  # (M,) a shown coordinate, contiguous
        ys = [self.columns[d][selection] for d in layout.dims]
        return np.stack(_aggregate_pairs(layout, pairs, xs, ys, len(self.colouring.names)))

    def _coded_x(self, dim: int) -> np.ndarray:
        """(N,) category code + the value's position in [0, 1) across its plot range; NaN outside it. Cached.

        Counting points over x in [0, K) on a canvas K cells wide counts each category in its own cell: the same
        numbers as ds.count_cat, from the plain ds.count kernel (about twice as fast at a million points).
        """
        if dim not in self._coded_cache:
            lo, hi = self.ranges[dim]
            unit = (self.columns[dim] - np.float32(lo)) * np.float32(1.0 / (hi - lo))  # (N,) float32
            unit[(unit < 0) | (unit >= 1)] = np.nan  # not drawn, rather than drawn in the next category's cell
            # float32 spacing near 16 is 2e-6: 0.999 keeps code + unit below code + 1 and maps to the last pixel.
            self._coded_cache[dim] = np.minimum(unit, np.float32(0.999)) + self.colouring.codes.astype(np.float32)
        return self._coded_cache[dim]

    def _histogram(self, dim: int, cell: int) -> np.ndarray:
        """(K, bins) counts a category of one coordinate over its plot range; cached."""
        key = (dim, cell)
        if key not in self._hist_cache:
            self._hist_cache[key] = _coded_histogram(self._coded_x(dim), len(self.colouring.names), cell // 2)
        return self._hist_cache[key]

    def _selection_histograms(self, layout: SplomLayout, selection: np.ndarray, visible: np.ndarray) -> list:
        n = len(self.colouring.names)
        return [_coded_histogram(self._coded_x(d)[selection], n, layout.cell // 2)[visible].sum(0) for d in layout.dims]


def shade_categories(counts: np.ndarray, colouring: Colouring, spread: int | None = None) -> np.ndarray:
    """(P, cell, cell, K) unsigned counts -> (P, cell, cell, 4) RGBA in the categories' colours, one shared scale.

    Points grow by `spread` pixels a side (default: SPREAD_PX when the cells are sparse, else 0).
    """
    if not counts.any():
        return np.zeros((*counts.shape[:3], 4), np.uint8)
    names = list(colouring.names)
    agg = _as_aggregate(_stack(counts), {"c": names})  # (P * (cell + SPREAD_PX), cell, K)
    image = tf.shade(agg, color_key=dict(zip(names, colouring.colors)), how="eq_hist", min_alpha=60)
    return _unstack(image, counts.shape[:3], _spread_px(counts) if spread is None else spread)


def shade_grey(totals: np.ndarray, spread: int | None = None) -> np.ndarray:
    """(P, cell, cell) unsigned counts -> RGBA in light grey: the samples outside a selection."""
    if not totals.any():
        return np.zeros((*totals.shape, 4), np.uint8)
    image = tf.shade(_as_aggregate(_stack(totals)), cmap=UNSELECTED_CMAP, how="eq_hist", min_alpha=60)
    return _unstack(image, totals.shape, _spread_px(totals) if spread is None else spread)


def _aggregate_pairs(
    layout: SplomLayout, pairs: list[tuple[int, int]], xs: list[np.ndarray], ys: list[np.ndarray], n_categories: int
) -> list[np.ndarray]:
    """(cell, cell, K) counts a pair from coded x (see `_coded_x`) and plain y, one array a shown coordinate.

    With few points the cells of a row share one Canvas.points call. Calls run on a few threads (datashader's kernels
    release the GIL); the first runs alone, so that numba compiles its kernel once, never in two threads at a time.
    """
    per_call = max(1, POINTS_PER_CALL // max(len(ys[0]) if ys else 1, 1))
    tasks = []  # (row, cols) a Canvas.points call
    for row in sorted({r for r, _ in pairs}):
        cols = [c for r, c in pairs if r == row]
        tasks += [(row, cols[start : start + per_call]) for start in range(0, len(cols), per_call)]

    def run(task: tuple[int, list[int]]) -> list[np.ndarray]:
        return _aggregate_row(layout, task[0], task[1], xs, ys, n_categories)

    results = [run(tasks[0]), *_POOL.map(run, tasks[1:])] if tasks else []
    found = {(row, col): counts for (row, cols), cells in zip(tasks, results) for col, counts in zip(cols, cells)}
    return [found[pair] for pair in pairs]


def _aggregate_row(
    layout: SplomLayout, row: int, cols: list[int], xs: list[np.ndarray], ys: list[np.ndarray], n_categories: int
) -> list[np.ndarray]:
    """Counts of cells (row, col) for col in cols from one Canvas.points call; row 0 of each is the lowest y.

    The canvas is cell * K * k pixels wide: pair `slot` of the call and category `c` own the x interval
    [slot * K + c, slot * K + c + 1), so datashader's fixed cost a call is paid once for k pairs.
    """
    cell, k, n = layout.cell, len(cols), n_categories
    if k == 1:
        x, y = xs[cols[0]], ys[row]
    else:  # float64: slot offsets up to 32 * K keep the unit fraction exact
        x = np.concatenate([xs[col].astype(np.float64) + slot * n for slot, col in enumerate(cols)])
        y = np.tile(ys[row], k)
    canvas = ds.Canvas(cell * n * k, cell, x_range=(0.0, float(n * k)), y_range=layout.ranges[row])
    frame = pd.DataFrame({"x": x, "y": y}, copy=False)  # always x/y: one compiled kernel
    counts = canvas.points(frame, "x", "y", agg=ds.count()).to_numpy()  # (cell, k * K * cell)
    return list(counts.reshape(cell, k, n, cell).transpose(1, 0, 3, 2))  # k x (cell, cell, K)


def _coded_histogram(coded: np.ndarray, n_categories: int, bins: int) -> np.ndarray:
    """(K, bins) counts from coded values (category + position in [0, 1)); values off the plot range are left out."""
    inside = coded[~np.isnan(coded)]
    index = (inside * bins).astype(np.int64)  # category * bins + bin
    return np.bincount(index, minlength=n_categories * bins).reshape(n_categories, bins)


def _as_aggregate(array: np.ndarray, categories: dict[str, list[str]] | None = None) -> xr.DataArray:
    """A stacked (rows, cols[, K]) count array as the DataArray that tf.shade takes."""
    coords = {"y": np.arange(array.shape[0]), "x": np.arange(array.shape[1]), **(categories or {})}
    return xr.DataArray(array, dims=("y", "x", *(categories or {})), coords=coords)


def _stack(cells: np.ndarray) -> np.ndarray:
    """(P, cell, cell, ...) -> (P * (cell + SPREAD_PX), cell, ...): cells one under another, blank rows between."""
    padded = np.pad(cells, [(0, 0), (0, SPREAD_PX)] + [(0, 0)] * (cells.ndim - 2))
    return padded.reshape(-1, *cells.shape[2:])


def _spread_px(counts: np.ndarray) -> int:
    """How far points grow: SPREAD_PX when cells hold few samples (lone pixels are hard to see), else 0."""
    return SPREAD_PX if counts.sum() < SPARSE_SAMPLES * len(counts) else 0


def _unstack(image: xr.DataArray, shape: tuple[int, int, int], px: int) -> np.ndarray:
    """A shaded stack, points grown by tf.spread (into the blank rows, not the next cell) -> (P, cell, cell, 4)."""
    spread = tf.spread(image, px=px) if px else image
    rgba = np.ascontiguousarray(spread.to_numpy()).view(np.uint8)  # uint32 packed RGBA, little-endian
    return rgba.reshape(shape[0], shape[1] + SPREAD_PX, shape[2], 4)[:, : shape[1]]
