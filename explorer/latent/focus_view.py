"""The focus plot: one pair of coordinates large and interactive (zoom, box and lasso select, hover for the sample
id, click or hover to pick a sample), drawn as a plain Bokeh image that is rasterized again after each zoom.

No HoloViews here: rebuilding a datashaded HoloViews plot took 0.5-1.2 s of the event loop at every trial switch,
and each marker move re-ran its datashader pipeline. This figure is built once; a switch, a selection or a zoom
replaces the data of its sources (milliseconds on the loop); the counting and shading (explorer.latent.raster, the
SPLOM's rasterizer too) run off the loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import panel as pn
from bokeh.events import MouseMove, RangesUpdate, SelectionGeometry, Tap
from bokeh.models import (
    BoxSelectTool,
    ColumnDataSource,
    CustomJS,
    HoverTool,
    LassoSelectTool,
    PanTool,
    Range1d,
    ResetTool,
    WheelZoomTool,
)
from bokeh.plotting import figure

from explorer.latent import raster
from explorer.latent.colouring import Colouring
from explorer.latent.selection import nearest_sample
from explorer.latent.splom_layout import axis_ranges
from explorer.latent.state import LatentState
from explorer.page.figures import edit_bokeh
from explorer.page.scheduling import LatestOnly

FOCUS_SIZE = 360  # pixels a side of the plot's frame, and of its raster
MARKER_COLOUR = "#e41a1c"
SPREAD_BELOW = (20_000, 200_000)  # points grow 2 pixels a side below 20,000 samples, 1 below 200,000, else 0
Ranges = tuple[tuple[float, float], tuple[float, float]]  # ((x0, x1), (y0, y1))
EMPTY_PIXEL_FILTER = "export default (args, tool, {value}) => value >= 0"  # `samples` holds -1 where no sample is


@dataclass(frozen=True)
class FocusImage:
    """One pair rasterized over given ranges; row 0 is the lowest y (as Bokeh draws an image)."""

    rgba: np.ndarray  # (size, size, 4) uint8
    samples: np.ndarray  # (size, size) int32: the first sample drawn in each pixel (data order), -1 where none
    ranges: Ranges


def render_focus(
    xy: tuple[np.ndarray, np.ndarray],
    colouring: Colouring,
    sample_ids: np.ndarray,
    visible: np.ndarray,
    selection: np.ndarray | None,
    ranges: Ranges,
    size: int = FOCUS_SIZE,
) -> FocusImage:
    """The visible samples in their categories' colours; with a selection, the others in grey under it."""
    x, y = xy
    n = len(colouring.names)
    shown = np.flatnonzero(visible)  # (M,) rows drawn, in data order
    coded = raster.coded_x(x, colouring.codes, ranges[0])  # (N,)
    coded[~visible] = np.nan
    counts = raster.category_counts(coded, y, n, size, ranges[1])  # (size, size, K)
    spread = sum(len(shown) < limit for limit in SPREAD_BELOW)  # few points: bigger dots
    if selection is None:
        rgba = raster.shade_categories(counts[None], colouring, spread)[0]
    else:
        chosen = raster.category_counts(np.where(selection, coded, np.nan), y, n, size, ranges[1])
        grey = raster.shade_grey(counts.sum(-1)[None], spread)
        rgba = raster.over(grey, raster.shade_categories(chosen[None], colouring, spread))[0]
    first = raster.first_rows(x[shown], y[shown], size, ranges)  # (size, size) positions in `shown`, -1 for none
    # int32: half the bytes sent to the browser at each redraw
    samples = np.where(first >= 0, np.asarray(sample_ids)[shown][np.maximum(first, 0)], -1).astype(np.int32)
    return FocusImage(rgba, samples, ranges)


def _focus_figure(source: ColumnDataSource, markers: ColumnDataSource) -> figure:
    """The figure, its image, the marker of the current point and the tools (selection tools on an empty layer)."""
    plot = figure(
        frame_width=FOCUS_SIZE, frame_height=FOCUS_SIZE, tools="", toolbar_location="right",
        x_range=Range1d(0, 1), y_range=Range1d(0, 1),
    )  # fmt: skip
    image = plot.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=source)
    plot.scatter("x", "y", source=markers, marker="x", size=16, line_width=3, color=MARKER_COLOUR)
    # Box and lasso report their geometry (SelectionGeometry); an empty layer gives them something to select, since
    # an image cannot be hit-tested by a box.
    target = plot.scatter(x=[], y=[], alpha=0)
    hover = HoverTool(
        renderers=[image],
        tooltips=[("sample", "@sample"), ("x", "$x{0.000}"), ("y", "$y{0.000}")],
        filters={"@sample": CustomJS(code=EMPTY_PIXEL_FILTER)},  # a pixel without a sample shows no tooltip
    )
    zoom = WheelZoomTool()
    plot.add_tools(PanTool(), zoom, BoxSelectTool(renderers=[target]), LassoSelectTool(renderers=[target]), hover)
    plot.add_tools(ResetTool())
    plot.toolbar.active_scroll = zoom
    plot.grid.visible = False
    return plot


class FocusView(pn.viewable.Viewer):
    """One pair large and interactive: zoom, box and lasso select, hover for the sample id, click to pick a sample."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.pick = pn.widgets.RadioButtonGroup(options=["click", "hover"], value="click", label="Pick a sample by")
        self.message = pn.pane.Markdown("", visible=False)
        self.image: FocusImage | None = None
        self.title = ""
        self.shown: tuple | None = None  # (trial_version, mode, x coordinate, y coordinate) of the image
        self._lock = threading.Lock()  # one redraw at a time (the loop's and a worker's may overlap)
        self._pointer: tuple[float, float] | None = None
        self._zoom: tuple[tuple | None, Ranges] | None = None  # (the pair it was made on, the ranges it shows)
        self.source = ColumnDataSource({"image": [], "sample": [], "x": [], "y": [], "dw": [], "dh": []})
        self.marker_source = ColumnDataSource({"x": [], "y": []})
        self.figure = _focus_figure(self.source, self.marker_source)
        self.figure.on_event(Tap, lambda event: self.pick_at(event.x, event.y))
        self.figure.on_event(MouseMove, self._pointer_moved)
        self.figure.on_event(SelectionGeometry, self._selected)
        self.figure.on_event(RangesUpdate, self._zoomed)
        # Wrapped: toggling `visible` on a Bokeh pane itself fails in Panel 1.9.
        self.pane = pn.Column(pn.pane.Bokeh(self.figure), css_classes=["ls-focus"])
        self._redraw_later = LatestOnly(self.redraw, off_loop=True)
        self._pick_later = LatestOnly(lambda: self._pointer is not None and self.pick_at(*self._pointer))
        self._rezoom_later = LatestOnly(self._rezoom, off_loop=True)
        state.param.watch(self._redraw_later, ["focus", "color_by", "hidden", "selection", "trial_version", "mode"])
        state.param.watch(self._move_marker, ["current_z"])

    def redraw(self, ranges: Ranges | None = None) -> None:
        """Rasterize the focus pair at `ranges` (default: the zoom kept for this pair, else the data's extent)."""
        s = self.state
        if s.trial is None:
            return
        fx, fy = s.focus
        self.message.object, self.message.visible = "The focus plot needs two dimensions.", fx == fy
        self.pane.visible = fx != fy
        if fx == fy:
            return
        pair = (s.trial_version, s.mode, fx, fy)
        with self._lock:
            new_pair = pair != self.shown
            if ranges is None:
                extent = axis_ranges(s.columns[[fx, fy]])  # (2, 2)
                ranges = self.image.ranges if not new_pair else ((*extent[0],), (*extent[1],))
            xy, ids = (s.columns[fx], s.columns[fy]), s.latents["sample"].to_numpy()
            image = render_focus(xy, s.colouring, ids, s.visible_mask(), s.selection, ranges)
            self.image, self.shown = image, pair
            names = s.coordinate_names
            self.title = f"{names[fy]} against {names[fx]}"
            # Queued under the lock: the loop applies the redraws in the order they were made.
            edit_bokeh(partial(self._show, image, self.title, (names[fx], names[fy]), new_pair))
        self._move_marker()

    def _show(self, image: FocusImage, title: str, names: tuple[str, str], new_pair: bool) -> None:
        """Bokeh side (on the loop): the new raster, and for a new pair its axes and full ranges."""
        (x0, x1), (y0, y1) = image.ranges
        packed = np.ascontiguousarray(image.rgba).view(np.uint32)[..., 0]  # (size, size) RGBA as uint32
        data = {"image": [packed], "sample": [image.samples], "x": [x0], "y": [y0], "dw": [x1 - x0], "dh": [y1 - y0]}
        self.source.data = data
        self.figure.title.text = title
        if new_pair:
            self.figure.xaxis.axis_label, self.figure.yaxis.axis_label = names
            self.figure.x_range.update(start=x0, end=x1, reset_start=x0, reset_end=x1)
            self.figure.y_range.update(start=y0, end=y1, reset_start=y0, reset_end=y1)

    def on_selection_geometry(self, geometry: dict) -> None:
        """A box (`rect`) or lasso (`poly`) drawn on the plot selects the shown samples inside it."""
        if geometry.get("type") == "rect":
            self.state.select_box((geometry["x0"], geometry["y0"], geometry["x1"], geometry["y1"]))
        elif geometry.get("type") == "poly" and len(geometry.get("x", ())) >= 3:
            self.state.select_lasso(np.asarray(geometry["x"], float), np.asarray(geometry["y"], float))

    def _selected(self, event: SelectionGeometry) -> None:
        if event.final:  # the drawing is finished
            self.on_selection_geometry(event.geometry)

    def pick_at(self, x: float | None, y: float | None) -> None:
        """Make the shown sample nearest to (x, y) current; distances as they look at the current zoom."""
        s = self.state
        if s.trial is None or x is None or y is None or s.focus[0] == s.focus[1]:
            return
        fx, fy = s.focus
        visible = np.flatnonzero(s.visible_mask())
        if len(visible) == 0:
            return
        x_values, y_values = s.columns[fx][visible], s.columns[fy][visible]
        if self.image is not None and self.shown == (s.trial_version, s.mode, fx, fy):
            spans = tuple(hi - lo for lo, hi in self.image.ranges)
        else:
            spans = (float(np.ptp(x_values)), float(np.ptp(y_values)))
        s.go_to_row(int(visible[nearest_sample(x_values, y_values, (x, y), spans)]))

    def _pointer_moved(self, event: MouseMove) -> None:
        if self.pick.value == "hover":
            self._pointer = (event.x, event.y)
            self._pick_later()

    def _zoomed(self, event: RangesUpdate) -> None:
        """Rasterize again at the new zoom (pans and zooms of the person, or a reset)."""
        ranges = ((event.x0, event.x1), (event.y0, event.y1))
        if self.image is None or None in (*ranges[0], *ranges[1]) or ranges == self.image.ranges:
            return
        self._zoom = (self.shown, ranges)
        self._rezoom_later()

    def _rezoom(self) -> None:
        if self._zoom is not None and self._zoom[0] == self.shown:  # a zoom of a pair no longer shown is dropped
            self.redraw(self._zoom[1])

    def _move_marker(self, *_: Any) -> None:
        s = self.state
        if s.trial is None or s.current_z is None or s.focus[0] == s.focus[1]:
            return
        point = s.current_z if s.mode == "latent" else s.pca.transform(s.current_z, s.latent_dim)
        data = {"x": [float(point[s.focus[0]])], "y": [float(point[s.focus[1]])]}
        edit_bokeh(lambda: setattr(self.marker_source, "data", data))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(pn.pane.Markdown("Pick a sample by"), self.pick), self.message, self.pane)
