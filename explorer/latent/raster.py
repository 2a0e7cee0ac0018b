"""Shading counts into RGBA with datashader, and compositing: one colour scale for every cell it is given."""

from __future__ import annotations

import datashader.transfer_functions as tf
import numpy as np
import xarray as xr

from explorer.latent.colouring import Colouring

BACKGROUND = (255, 255, 255)
UNSELECTED_CMAP = ["#e3e3e3", "#9a9a9a"]  # samples outside the selection: light grey
SPREAD_PX = 1  # points of sparse cells grow by this many pixels a side (tf.spread), so that few samples stay visible
SPARSE_SAMPLES = 5_000  # samples a cell below which it counts as sparse


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
