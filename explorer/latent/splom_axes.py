"""The SPLOM's names and ticks as Bokeh axes around the composite image: text the browser draws, crisp at any size.

The composite image holds only the cells. Below it one axis carries every column's ticks and a second every column's
name; left of it the same for the rows (with each coordinate's note, e.g. its KL). Tick positions are in image
pixels, the figure's data units, so they follow a zoom or a pan of the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bokeh.models import FixedTicker, LinearAxis, NoOverlap
from bokeh.plotting import figure

from explorer.latent.splom_layout import GAP, SplomLayout

TICK_COLOUR = "#555555"
NAME_COLOUR = "#202020"


@dataclass(frozen=True)
class AxisText:
    """What one side of the matrix says: tick labels and names, each keyed by its position in image pixels."""

    ticks: dict[float, str]
    names: dict[float, str]


def nice_ticks(lo: float, hi: float, count: int) -> list[float]:
    """Round values inside [lo, hi] (steps of 1, 2 or 5 times a power of ten): the finest step giving at most
    count + 1 of them; none when count < 1."""
    if count < 1 or not hi > lo:
        return []
    power = 10.0 ** math.floor(math.log10((hi - lo) / count))
    for step in (m * power for m in (0.5, 1, 2, 5, 10, 20)):
        values = [k * step + 0.0 for k in range(math.ceil(lo / step), math.floor(hi / step) + 1)]  # + 0.0: no "-0"
        if len(values) <= count + 1:
            return values
    return values


def ticks_a_cell(layout: SplomLayout, shown_px: float) -> int:
    """How many ticks a cell gets when the whole image is shown `shown_px` screen pixels wide: fewer as cells shrink."""
    cell_px = layout.cell * shown_px / layout.width
    return 4 if cell_px >= 90 else 3 if cell_px >= 45 else 2 if cell_px >= 24 else 0


def _label(value: float) -> str:
    return f"{value:.3g}"


def column_text(layout: SplomLayout, count: int) -> AxisText:
    """Below the matrix: each column's coordinate values under its cells, and its name under its centre."""
    ticks, names = {}, {}
    for col in range(layout.n):
        _, left = layout.origin(col, col)
        lo, hi = layout.ranges[col]
        for value in nice_ticks(lo, hi, count):
            ticks[round(left + layout.to_pixel(value, col, "x"), 3)] = _label(value)
        names[round(left + layout.cell / 2, 3)] = layout.names[col]
    return AxisText(ticks, names)


def row_text(layout: SplomLayout, count: int, notes: list[str]) -> AxisText:
    """Left of the matrix: each row's coordinate values beside its cells (not the top row's: its one cell is a
    histogram), and its name with its note beside its centre."""
    ticks, names = {}, {}
    for row in range(layout.n):
        top, _ = layout.origin(row, row)
        lo, hi = layout.ranges[row]
        for value in nice_ticks(lo, hi, count) if row > 0 else []:
            ticks[round(layout.height - top - layout.to_pixel(value, row, "y"), 3)] = _label(value)
        note = f" · {notes[row]}" if notes[row] else ""
        names[round(layout.height - top - layout.cell / 2, 3)] = f"{layout.names[row]}{note}"
    return AxisText(ticks, names)


def make_axes(plot: figure) -> None:
    """Give a figure its four SPLOM axes (ticks nearest the image, names outside them); `show_axes` fills them."""
    plot.xaxis.visible = plot.yaxis.visible = False  # the figure's own axes: replaced by these
    for place in ("below", "left"):
        for kind in ("ticks", "names"):
            axis = LinearAxis(ticker=FixedTicker(ticks=[]), name=f"splom-{kind}-{place}")
            axis.minor_tick_line_color = None
            axis.axis_line_color = None
            axis.major_label_policy = NoOverlap()  # crowded labels are thinned rather than drawn over each other
            if kind == "names":
                axis.major_tick_line_color = None
                axis.major_label_text_color = NAME_COLOUR
                axis.major_label_text_font_style = "bold"
            else:
                axis.major_tick_line_color = TICK_COLOUR
                axis.major_label_text_color = TICK_COLOUR
                axis.major_tick_out, axis.major_tick_in = 3, 0
            plot.add_layout(axis, place)


def show_axes(plot: figure, layout: SplomLayout, notes: list[str], shown_px: float) -> None:
    """Set the axes of `make_axes` to a layout's ticks and names (notes: one a shown coordinate)."""
    count = ticks_a_cell(layout, shown_px)
    pitch_px = (layout.cell + GAP) * shown_px / layout.width  # screen pixels from one cell to the next
    name_size = "11px" if pitch_px >= 26 else "9px"
    sides = {"below": column_text(layout, count), "left": row_text(layout, count, notes)}
    for place, text in sides.items():
        for kind, labels in (("ticks", text.ticks), ("names", text.names)):
            axis = plot.select_one({"name": f"splom-{kind}-{place}"})
            positions = sorted(labels)
            axis.ticker.ticks = positions
            axis.major_label_overrides = {p: labels[p] for p in positions}
            axis.major_label_text_font_size = "9px" if kind == "ticks" else name_size
            if kind == "names" and place == "below":  # narrow columns: names turn upright rather than collide
                axis.major_label_orientation = "horizontal" if pitch_px >= 30 else math.pi / 2
