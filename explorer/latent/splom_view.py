"""The SPLOM view: the composite image of every shown pair, its controls and its legend.

A `pn.viewable.Viewer` over the shared `LatentState`; `LatentExplorer` (explorer.latent.workbench) assembles it with
the other latent views. The SPLOM is a plain Bokeh figure built once: a redraw renders the composite
off the event loop and replaces its image source's data.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.events import Tap
from bokeh.models import ColumnDataSource, PanTool, Range1d, ResetTool, WheelZoomTool
from bokeh.plotting import figure

from explorer.latent.splom import SplomRenderer
from explorer.latent.splom_axes import make_axes, show_axes
from explorer.latent.splom_decor import marker_positions
from explorer.latent.splom_layout import MAX_DIMS, SHOWN_SIZE, SplomImage
from explorer.latent.state import LatentState
from explorer.page.figures import edit_bokeh
from explorer.page.scheduling import LatestOnly

PLOT_SIZE = SHOWN_SIZE  # pixels a side of the SPLOM's image: it shares one screen with the focus plot, image, sliders
AXES_WIDTH = 100  # the names and ticks left of the image (the toolbar is above it)
MARKER_COLOUR = "#e41a1c"
REDRAW_ON = ["trial_version", "mode", "n_components", "dims", "color_by", "hidden", "selection"]


def _splom_figure(source: ColumnDataSource, crosses: ColumnDataSource, lines: ColumnDataSource) -> figure:
    """A square figure showing one RGBA image, names and ticks as axes around it, the current point in every cell."""
    # SVG output: the names and ticks are text elements, sharp at any zoom (and found by the browser tests).
    plot = figure(
        frame_width=PLOT_SIZE, frame_height=PLOT_SIZE, tools="", toolbar_location="above",
        x_range=Range1d(0, 1), y_range=Range1d(0, 1), output_backend="svg",
    )  # fmt: skip
    plot.image_rgba(image="image", x=0, y=0, dw="dw", dh="dh", source=source)
    plot.scatter("x", "y", source=crosses, marker="x", size=11, line_width=3, color=MARKER_COLOUR)
    plot.segment("x0", "y0", "x1", "y1", source=lines, line_width=1.5, color=MARKER_COLOUR)
    zoom = WheelZoomTool()
    plot.add_tools(zoom, PanTool(), ResetTool())
    plot.toolbar.active_scroll = zoom
    make_axes(plot)
    plot.grid.visible = False
    plot.outline_line_color = None
    return plot


class SplomView(pn.viewable.Viewer):
    """The composite SPLOM, its controls (space, dimensions, colouring) and a legend whose entries toggle."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.image: SplomImage | None = None
        self._drawn_for: tuple = ()  # (trial_version, mode) of the image
        self._renderers: dict[tuple, SplomRenderer] = {}
        self._syncing = False
        self._lock = threading.Lock()  # one render at a time (the loop's and a worker's may overlap)
        self.source = ColumnDataSource({"image": [], "dw": [], "dh": []})
        self.marker_source = ColumnDataSource({"x": [], "y": []})  # the current point in each pair cell
        self.segment_source = ColumnDataSource({"x0": [], "y0": [], "x1": [], "y1": []})  # and on the diagonal
        self.figure = _splom_figure(self.source, self.marker_source, self.segment_source)
        self.figure.on_event(Tap, lambda event: self.click(event.x, event.y))
        self.plot = pn.Column(pn.pane.Bokeh(self.figure), css_classes=["ls-splom"])
        self.mode = pn.widgets.RadioButtonGroup(options={"Latent dimensions": "latent", "PCA": "pca"})
        # A plain multiple select (Ctrl/Shift-click), not MultiChoice: its Choices.js logs a deprecation in the browser.
        self.dims = pn.widgets.MultiSelect(label="Dimensions (highest KL first; Ctrl-click to add)", size=6, width=300)
        self.n_components = pn.widgets.IntSlider(label="Principal components", start=1, end=2, value=2)
        self.colour = pn.widgets.Select(label="Colour by", width=180)
        self.legend = pn.widgets.CheckButtonGroup(label="Legend", css_classes=["ls-legend"])
        self.gradient = pn.pane.HTML("", visible=False)
        self.heading = pn.pane.Markdown("", css_classes=["ls-splom-title"], margin=(0, 10))
        for widget in (self.mode, self.dims, self.n_components, self.colour, self.legend):
            widget.param.watch(self._widget_changed, "value")
        self._redraw_later = LatestOnly(self.redraw, off_loop=True)  # aggregation and shading: numpy, no models
        state.param.watch(self._state_changed, REDRAW_ON)
        state.param.watch(self._move_marker, ["current_z"])

    @property
    def title(self) -> str:
        """What the plot's title says: the explained variance in PCA mode."""
        return self.state.explained_variance_title() if self.state.mode == "pca" else "Latent means by KL"

    def renderer(self) -> SplomRenderer:
        """The renderer of the current space and colouring (its pair aggregates are cached)."""
        s = self.state
        key = (s.trial_version, s.mode, s.color_by)
        if key not in self._renderers:
            if len(self._renderers) >= 4:
                self._renderers.pop(next(iter(self._renderers)))
            self._renderers[key] = SplomRenderer(
                s.columns, s.coordinate_names, s.colouring, prior_centers=s.prior_centers
            )
        return self._renderers[key]

    def redraw(self) -> None:
        """Render the composite of the current state (numpy; off the loop when served) and show it."""
        if self.state.trial is None or not self.state.dims:
            return
        s = self.state
        with self._lock:
            image = self.renderer().render(s.dims, tuple(s.hidden), s.selection)
            self.image, self._drawn_for = image, (s.trial_version, s.mode)
            notes = [self.state.coordinate_notes[d] for d in image.layout.dims]
            edit_bokeh(partial(self._show, image, notes))  # queued under the lock: the loop shows the renders in order
        self.heading.object = f"**{self.title}**"
        self._move_marker()

    def _show(self, image: SplomImage, notes: list[str]) -> None:
        """Bokeh side (on the loop): the new image and its axes; the view fits it when its size changed."""
        height, width = image.rgba.shape[:2]
        packed = np.ascontiguousarray(image.rgba[::-1]).view(np.uint32)[..., 0]  # (H, W), row 0 at the bottom
        self.source.data = {"image": [packed], "dw": [width], "dh": [height]}
        if (self.figure.x_range.reset_end, self.figure.y_range.reset_end) != (width, height):
            self.figure.x_range.update(start=0, end=width, reset_start=0, reset_end=width)
            self.figure.y_range.update(start=0, end=height, reset_start=0, reset_end=height)
        show_axes(self.figure, image.layout, notes, PLOT_SIZE)

    def _move_marker(self, *_: Any) -> None:
        s = self.state
        image = self.image
        if image is not None and self._drawn_for == (s.trial_version, s.mode) and s.current_z is not None:
            xs, ys, segments = marker_positions(image.layout, self._full_point())
            x, y0, y1 = segments.T
            crosses, lines = {"x": xs, "y": ys}, {"x0": x, "y0": y0, "x1": x, "y1": y1}
            edit_bokeh(partial(self._show_marker, crosses, lines))

    def _show_marker(self, crosses: dict, lines: dict) -> None:
        self.marker_source.data, self.segment_source.data = crosses, lines

    def _full_point(self) -> np.ndarray:
        """The current point in every coordinate of the space (all components in PCA mode)."""
        s = self.state
        return s.current_z if s.mode == "latent" else s.pca.transform(s.current_z, s.latent_dim)

    def click(self, x: float | None, y: float | None) -> None:
        """A click on a pair cell makes that pair the focus plot's and the sample nearest the click current.

        x, y are in image pixels from the bottom left. Nearness is measured as it looks: each axis in units of its
        cell's span (the cells are square on screen).
        """
        if self.image is None or x is None or y is None or self.state.trial is None:
            return
        layout = self.image.layout
        cell = layout.cell_at(x, y)
        if cell is None or cell[0] == cell[1]:
            return
        row, col = cell
        top, left = layout.origin(row, col)
        at = (layout.to_value(x - left, col, "x"), layout.to_value(layout.height - y - top, row, "y"))
        spans = (np.diff(layout.ranges[col])[0], np.diff(layout.ranges[row])[0])
        pair = (layout.dims[col], layout.dims[row])
        with param.parameterized.batch_call_watchers(self.state):
            self.state.focus = pair
            self.state.go_to_nearest(pair, at, spans)

    def _state_changed(self, *events: param.parameterized.Event) -> None:
        if any(e.name in ("trial_version", "mode", "n_components", "color_by", "dims") for e in events):
            self._sync_widgets()
        elif any(e.name == "hidden" for e in events):
            self._syncing = True
            try:
                self._sync_legend()
            finally:
                self._syncing = False
        self._redraw_later()

    def _sync_widgets(self) -> None:
        s = self.state
        if s.trial is None:
            return
        self._syncing = True
        try:
            names, notes = s.coordinate_names, s.coordinate_notes
            self.mode.value = s.mode
            self.mode.disabled = s.latent_dim < 2
            self.dims.options = {f"{names[i]} · {notes[i]}": i for i in s.order}
            self.dims.value = list(s.dims)
            self.dims.visible = s.mode == "latent"
            self.n_components.param.update(end=max(s.latent_dim, 2), start=min(2, s.latent_dim), value=s.n_components)
            self.n_components.visible = s.mode == "pca"
            self.colour.options = s.colour_options
            self.colour.value = s.color_by
            self._sync_legend()
        finally:
            self._syncing = False

    def _sync_legend(self) -> None:
        colouring = self.state.colouring
        names = list(colouring.names)
        self.legend.options = {legend_label(n, i in self.state.hidden): n for i, n in enumerate(names)}
        self.legend.value = [n for i, n in enumerate(names) if i not in self.state.hidden]
        self.legend.stylesheets = [_legend_css(colouring.colors)]
        self.legend.visible = not colouring.continuous and colouring.column != "none"
        self.gradient.object = _gradient_html(colouring) if colouring.continuous else ""
        self.gradient.visible = colouring.continuous

    def _widget_changed(self, event: param.parameterized.Event) -> None:
        if self._syncing or self.state.trial is None:
            return
        s, widget = self.state, event.obj
        if widget is self.mode:
            s.mode = event.new
        elif widget is self.dims and event.new:
            s.dims = list(event.new)[:MAX_DIMS]
        elif widget is self.n_components:
            s.n_components = max(1, min(int(event.new), s.latent_dim))
        elif widget is self.colour:
            s.color_by = event.new
        elif widget is self.legend:
            s.hidden = [i for i, n in enumerate(s.colouring.names) if n not in event.new]

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(self.mode, self.colour, self.n_components)
        # The dimension picker last: it is used less often than the plot, which stays on the first screen.
        parts = (controls, self.heading, self.plot, self.legend, self.gradient, self.dims)
        return pn.Column(*parts, width=PLOT_SIZE + AXES_WIDTH)


def legend_label(name: str, hidden: bool) -> str:
    """A legend entry's text: the category's name, and the word "hidden" while it is hidden."""
    return f"{name} · hidden" if hidden else name


def _legend_css(colours: tuple[str, ...]) -> str:
    """Each shown legend entry gets its category's colour as a thick left border; a hidden one a hollow grey swatch,
    grey struck-through text and a faint background."""
    rules = [
        f".bk-btn-group > .bk-btn:nth-child({i + 1}) {{ border-left: 12px solid {c}; }}" for i, c in enumerate(colours)
    ]
    rules.append(
        ".bk-btn-group > .bk-btn:not(.bk-active) { border-left: 12px double #c8c8c8; color: #8a8a8a; "
        "text-decoration: line-through; background: #f4f4f4; font-style: italic; }"
    )
    return "\n".join(rules)


def _gradient_html(colouring: Any) -> str:
    stops = ", ".join(colouring.colors)
    low, high = colouring.names[0].split("–")[0], colouring.names[-1].split("–")[-1]
    bar = f"<div style='width:240px;height:12px;background:linear-gradient(to right, {stops})'></div>"
    return f"<b>{colouring.column}</b> {low} {bar} {high}"
