"""What the composite SPLOM draws besides the datashaded pairs: histograms, the prior, frames and markers."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from explorer.latent.splom_layout import SplomLayout

FRAME = "#cfcfcf"
BARS = "#8f8f8f"  # histogram of every shown sample
BARS_UNDER_SELECTION = "#d4d4d4"  # the same, when a selection is drawn over it
SELECTED_BARS = "#3a3a3a"
PRIOR = "#d62728"  # the N(0, 1) prior density
PRIOR_PEAK = 1.0 / np.sqrt(2.0 * np.pi)


def hex_to_rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' -> (r, g, b)."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def draw_diagonal(
    canvas: np.ndarray,
    layout: SplomLayout,
    histograms: list[np.ndarray],
    selected: list[np.ndarray] | None,
    prior_centers: np.ndarray,
) -> Image.Image:
    """Each coordinate's histogram as a density on the diagonal (selection in dark), with the prior's unit normal."""
    for i, counts in enumerate(histograms):
        top, left = layout.origin(i, i)
        lo, hi = layout.ranges[i]
        scale = _density_scale(counts, hi - lo)  # counts -> density units
        y_max = 1.1 * max(float((counts * scale).max(initial=0.0)), PRIOR_PEAK)
        cell = canvas[top : top + layout.cell, left : left + layout.cell]
        _fill_bars(cell, counts * scale / y_max, BARS if selected is None else BARS_UNDER_SELECTION)
        if selected is not None:
            _fill_bars(cell, selected[i] * scale / y_max, SELECTED_BARS)
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for i in range(layout.n):
        top, left = layout.origin(i, i)
        lo, hi = layout.ranges[i]
        counts = histograms[i]
        y_max = 1.1 * max(float((counts * _density_scale(counts, hi - lo)).max(initial=0.0)), PRIOR_PEAK)
        x = np.linspace(lo, hi, layout.cell)
        density = np.exp(-0.5 * (x - prior_centers[i]) ** 2) * PRIOR_PEAK
        rows = top + (layout.cell - 1) * (1.0 - density / y_max)
        draw.line(list(zip((left + np.arange(layout.cell)).tolist(), rows.tolist())), fill=PRIOR, width=1)
    return image


def draw_frames(image: Image.Image, layout: SplomLayout) -> np.ndarray:
    """A frame around each cell; names and ticks are not drawn here but as text around the image."""
    draw = ImageDraw.Draw(image)
    for row, col in [(r, c) for r in range(layout.n) for c in range(r + 1)]:
        top, left = layout.origin(row, col)
        draw.rectangle((left - 1, top - 1, left + layout.cell, top + layout.cell), outline=FRAME)
    return np.asarray(image)


def _density_scale(counts: np.ndarray, span: float) -> float:
    """The factor that turns bin counts into a probability density over a range of width `span`."""
    total = float(counts.sum())
    return len(counts) / (total * span) if total > 0 else 0.0


def _fill_bars(cell: np.ndarray, heights: np.ndarray, colour: str) -> None:
    """Draw bars of fractional heights (one a bin) across a square cell, in place."""
    size = cell.shape[0]
    bin_of_column = np.minimum(np.arange(size) * len(heights) // size, len(heights) - 1)  # (cell,)
    column_height = np.round(np.clip(heights[bin_of_column], 0.0, 1.0) * size)  # (cell,) pixels
    filled = np.arange(size)[:, None] >= size - column_height[None, :]  # (cell, cell): rows from the top
    cell[filled] = hex_to_rgb(colour)


def marker_positions(layout: SplomLayout, point: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a point falls in plot units (origin bottom left): off-diagonal (xs, ys) and diagonal (x, y0, y1) rows."""
    xs, ys, segments = [], [], []
    for row in range(layout.n):
        for col in range(row + 1):
            top, left = layout.origin(row, col)
            x = left + layout.to_pixel(float(point[layout.dims[col]]), col, "x")
            if row == col:
                segments.append((x, layout.height - top - layout.cell, layout.height - top))
            else:
                xs.append(x)
                ys.append(layout.height - top - layout.to_pixel(float(point[layout.dims[row]]), row, "y"))
    return np.array(xs), np.array(ys), np.array(segments).reshape(-1, 3)


def draw_marker(rgba: np.ndarray, layout: SplomLayout, point: np.ndarray, colour: str = "#e41a1c") -> np.ndarray:
    """A copy of a composite with the point drawn as a cross in each pair cell and a line on the diagonal."""
    out = rgba.copy()
    xs, ys, segments = marker_positions(layout, point)
    rgb = hex_to_rgb(colour)
    for x, y in zip(xs, ys):
        col, row = int(x), layout.height - int(y)
        out[max(row - 4, 0) : row + 5, col, :3] = rgb
        out[row, max(col - 4, 0) : col + 5, :3] = rgb
    for x, y0, y1 in segments:
        out[layout.height - int(y1) : layout.height - int(y0), int(x), :3] = rgb
    return out
