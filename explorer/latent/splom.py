"""The SPLOM of a latent space as ONE composite datashader image: no per-panel figures, no link_selections.

Each lower-triangle cell is counted by explorer.latent.raster (several pairs side by side in one call when they are
small), and all cells are shaded by a single `tf.shade` call on the stacked counts, so every cell shares one colour
scale.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from explorer.latent.colouring import Colouring
from explorer.latent.raster import (
    BACKGROUND,
    coded_x,
    count_points,
    on_background,
    over,
    shade_categories,
    shade_grey,
)
from explorer.latent.splom_decor import draw_diagonal, draw_frames
from explorer.latent.splom_layout import MAX_DIMS, SplomImage, SplomLayout, axis_ranges, default_cell

POINTS_PER_CALL = 500_000  # below this many points a pair, datashader's fixed cost a call dominates: batch pairs
AGGREGATION_THREADS = min(4, os.cpu_count() or 1)
_POOL = ThreadPoolExecutor(AGGREGATION_THREADS, thread_name_prefix="splom")


class SplomRenderer:
    """Renders composites of one embedding and one colouring; caches each pair's aggregate."""

    def __init__(
        self,
        columns: np.ndarray,
        names: list[str],
        colouring: Colouring,
        ranges: np.ndarray | None = None,
        prior_centers: np.ndarray | None = None,
    ) -> None:
        self.columns = np.ascontiguousarray(columns, dtype=np.float32)  # (k, N): one contiguous row a coordinate
        self.names = list(names)
        self.colouring = colouring
        self.ranges = axis_ranges(self.columns) if ranges is None else np.asarray(ranges, dtype=np.float64)
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
        """The composite: pairs below the diagonal, histograms (with the N(0, 1) prior) on it, a frame a cell."""
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
        rgb = draw_frames(image, layout)
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
        """(N,) category code + position across the coordinate's plot range (raster.coded_x); cached."""
        if dim not in self._coded_cache:
            self._coded_cache[dim] = coded_x(self.columns[dim], self.colouring.codes, tuple(self.ranges[dim]))
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
    counts = count_points(x, y, cell * n * k, cell, (0.0, float(n * k)), layout.ranges[row])  # (cell, k * K * cell)
    return list(counts.reshape(cell, k, n, cell).transpose(1, 0, 3, 2))  # k x (cell, cell, K)


def _coded_histogram(coded: np.ndarray, n_categories: int, bins: int) -> np.ndarray:
    """(K, bins) counts from coded values (category + position in [0, 1)); values off the plot range are left out."""
    inside = coded[~np.isnan(coded)]
    index = (inside * bins).astype(np.int64)  # category * bins + bin
    return np.bincount(index, minlength=n_categories * bins).reshape(n_categories, bins)
