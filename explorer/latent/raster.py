"""The one rasterizer of the SPLOM and the focus plot: datashader counts points a pixel and category, shades the
counts on one colour scale for every cell it is given, and finds the first sample of each pixel for the hover.

Every count is `Canvas.points` over a 2-column frame whose columns are always named x/y (datashader compiles one
kernel per set of column names and dtypes, so fixed names keep every call after the first cheap). x carries the
sample's category too (see `coded_x`): the plain `ds.count` kernel then counts each category in its own cells.
"""

from __future__ import annotations

import datashader as ds
import datashader.transfer_functions as tf
import numpy as np
import pandas as pd
import xarray as xr

from explorer.latent.colouring import Colouring

BACKGROUND = (255, 255, 255)
UNSELECTED_CMAP = ["#e3e3e3", "#9a9a9a"]  # samples outside the selection: light grey
SPREAD_PX = 1  # points of sparse cells grow by this many pixels a side (tf.spread), so that few samples stay visible
SPARSE_SAMPLES = 5_000  # samples a cell below which it counts as sparse
Range = tuple[float, float]


def coded_x(values: np.ndarray, codes: np.ndarray, x_range: Range) -> np.ndarray:
    """(N,) float32 category code + the value's position in [0, 1) across x_range; NaN outside it.

    Counting points over x in [0, K) on a canvas K cells wide counts each category in its own cell: the same
    numbers as ds.count_cat, from the plain ds.count kernel (about twice as fast at a million points).
    """
    lo, hi = x_range
    unit = (np.asarray(values, np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))  # (N,) float32
    unit[(unit < 0) | (unit >= 1)] = np.nan  # not drawn, rather than drawn in the next category's cell
    # float32 spacing near 16 is 2e-6: 0.999 keeps code + unit below code + 1 and maps to the last pixel.
    return np.minimum(unit, np.float32(0.999)) + codes.astype(np.float32)


def count_points(x: np.ndarray, y: np.ndarray, width: int, height: int, x_range: Range, y_range: Range) -> np.ndarray:
    """(height, width) uint32 points a pixel; row 0 is the lowest y."""
    canvas = ds.Canvas(width, height, x_range=x_range, y_range=y_range)
    frame = pd.DataFrame({"x": x, "y": y}, copy=False)  # always x/y: one compiled kernel
    return canvas.points(frame, "x", "y", agg=ds.count()).to_numpy()


def category_counts(coded: np.ndarray, y: np.ndarray, n_categories: int, size: int, y_range: Range) -> np.ndarray:
    """(size, size, K) uint32 counts of each category's points a pixel from `coded_x` x; row 0 is the lowest y."""
    counts = count_points(coded, y, n_categories * size, size, (0.0, float(n_categories)), y_range)
    return counts.reshape(size, n_categories, size).transpose(0, 2, 1)


def first_rows(x: np.ndarray, y: np.ndarray, size: int, ranges: tuple[Range, Range]) -> np.ndarray:
    """(size, size) int64: the first row (data order) drawn in each pixel, -1 where none; row 0 is the lowest y."""
    canvas = ds.Canvas(size, size, x_range=ranges[0], y_range=ranges[1])
    frame = pd.DataFrame({"x": x, "y": y, "row": np.arange(len(x), dtype=np.float64)}, copy=False)
    first = canvas.points(frame, "x", "y", agg=ds.min("row")).to_numpy()  # NaN where no point falls
    return np.where(np.isnan(first), -1, first).astype(np.int64)


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


def over(below: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Alpha-composite RGBA `above` over `below` (both uint8, same shape)."""
    a_top = above[..., 3:4] / np.float32(255.0)  # float32: these arrays hold every cell of the matrix
    a_bottom = below[..., 3:4] / np.float32(255.0)
    alpha = a_top + a_bottom * (1 - a_top)
    rgb = above[..., :3] * a_top + below[..., :3] * a_bottom * (1 - a_top)
    rgb = np.divide(rgb, alpha, out=np.zeros_like(rgb), where=alpha > 0)
    return np.concatenate([rgb, alpha * 255], axis=-1).round().astype(np.uint8)


def on_background(rgba: np.ndarray) -> np.ndarray:
    """RGBA over the opaque background colour -> RGB."""
    alpha = rgba[..., 3:4] / 255.0
    return (rgba[..., :3] * alpha + np.asarray(BACKGROUND) * (1 - alpha)).round().astype(np.uint8)
