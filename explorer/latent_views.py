"""Panel views of the latent space: the composite SPLOM, the focus plot of one pair, and the selection tools.

Each view is a `pn.viewable.Viewer` over one shared `LatentState`; `LatentExplorer` (explorer.latent_explorer)
assembles them with the traversal views.
"""

from __future__ import annotations

from typing import Any

import datashader as ds
import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from holoviews.operation.datashader import dynspread, rasterize, shade

from explorer.latent_state import LatentState
from explorer.latent_stats import nearest_sample
from explorer.scheduling import LatestOnly
from explorer.splom import MAX_DIMS, UNSELECTED_CMAP, SplomImage, SplomRenderer
from explorer.splom_draw import marker_positions

hv.extension("bokeh", logo=False)  # the plots are Bokeh; also registers hv.opts.RGB and friends

PLOT_SIZE = 760  # pixels a side of the SPLOM
FOCUS_SIZE = 520
MARKER = {"color": "#e41a1c", "line_width": 3}
REDRAW_ON = ["trial_version", "mode", "n_components", "dims", "color_by", "hidden", "selection"]


class SplomView(pn.viewable.Viewer):
    """The composite SPLOM, its controls (space, dimensions, colouring) and a legend whose entries toggle."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.image: SplomImage | None = None
        self._drawn_for: tuple = ()  # (trial_version, mode) of the image
        self._renderers: dict[tuple, SplomRenderer] = {}
        self._syncing = False
        self._image_pipe = hv.streams.Pipe(data=np.full((2, 2, 4), 255, np.uint8))
        self._marker_pipe = hv.streams.Pipe(data=(np.zeros((0, 2)), np.zeros((0, 4))))
        rgb = hv.DynamicMap(_rgb_element, streams=[self._image_pipe])
        self.tap = hv.streams.Tap(source=rgb, transient=True)
        self.tap.add_subscriber(self._on_tap)
        markers = hv.DynamicMap(_marker_element, streams=[self._marker_pipe])
        self.plot = pn.pane.HoloViews(rgb * markers, css_classes=["ls-splom"], width=PLOT_SIZE + 20)
        self.mode = pn.widgets.RadioButtonGroup(options={"Latent dimensions": "latent", "PCA": "pca"})
        self.dims = pn.widgets.MultiChoice(label="Dimensions (highest KL first)", max_items=MAX_DIMS, width=PLOT_SIZE)
        self.n_components = pn.widgets.IntSlider(label="Principal components", start=1, end=2, value=2)
        self.colour = pn.widgets.Select(label="Colour by", width=180)
        self.legend = pn.widgets.CheckButtonGroup(label="Legend", css_classes=["ls-legend"])
        self.gradient = pn.pane.HTML("", visible=False)
        self.heading = pn.pane.Markdown("", css_classes=["ls-splom-title"], margin=(0, 10))
        for widget in (self.mode, self.dims, self.n_components, self.colour, self.legend):
            widget.param.watch(self._widget_changed, "value")
        self._redraw_later = LatestOnly(self.redraw)
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
                s.columns, s.coordinate_names, s.colouring, notes=s.coordinate_notes, prior_centers=s.prior_centers
            )
        return self._renderers[key]

    def redraw(self) -> None:
        """Render the composite of the current state and send it to the plot."""
        if self.state.trial is None or not self.state.dims:
            return
        s = self.state
        self.image = self.renderer().render(s.dims, tuple(s.hidden), s.selection)
        self._drawn_for = (s.trial_version, s.mode)
        self._image_pipe.send(self.image.rgba)
        self.heading.object = f"**{self.title}**"
        self._move_marker()

    def _move_marker(self, *_: Any) -> None:
        s = self.state
        if self.image is not None and self._drawn_for == (s.trial_version, s.mode) and s.current_z is not None:
            xs, ys, segments = marker_positions(self.image.layout, self._full_point())
            x, y0, y1 = segments.T
            self._marker_pipe.send((np.column_stack([xs, ys]), np.column_stack([x, y0, x, y1])))

    def _full_point(self) -> np.ndarray:
        """The current point in every coordinate of the space (all components in PCA mode)."""
        s = self.state
        return s.current_z if s.mode == "latent" else s.pca.transform(s.current_z, s.latent_dim)

    def _on_tap(self, x: float | None = None, y: float | None = None) -> None:
        """A click on a pair cell makes that pair the focus plot's."""
        if self.image is None or x is None or y is None:
            return
        cell = self.image.layout.cell_at(x, y)
        if cell is not None and cell[0] != cell[1]:
            dims = self.image.layout.dims
            self.state.focus = (dims[cell[1]], dims[cell[0]])

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
        self.legend.options = names
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
            s.dims = list(event.new)
        elif widget is self.n_components:
            s.n_components = max(1, min(int(event.new), s.latent_dim))
        elif widget is self.colour:
            s.color_by = event.new
        elif widget is self.legend:
            s.hidden = [i for i, n in enumerate(s.colouring.names) if n not in event.new]

    def __panel__(self) -> pn.viewable.Viewable:
        controls = pn.Row(self.mode, self.colour, self.n_components)
        return pn.Column(controls, self.dims, self.heading, self.plot, self.legend, self.gradient)


class FocusView(pn.viewable.Viewer):
    """One pair large and interactive: zoom, box and lasso select, hover for the sample id, click to pick a sample."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.pick = pn.widgets.RadioButtonGroup(options=["click", "hover"], value="click", label="Pick a sample by")
        self.pane = pn.pane.HoloViews(None, css_classes=["ls-focus"], width=FOCUS_SIZE + 60)
        self.message = pn.pane.Markdown("", visible=False)
        self._marker_pipe = hv.streams.Pipe(data=np.zeros((0, 2)))
        self._ranges: tuple[Any, tuple | None, tuple | None] = (None, None, None)  # (focus, x_range, y_range)
        self._rebuild_later = LatestOnly(self.rebuild)
        state.param.watch(self._rebuild_later, ["focus", "color_by", "hidden", "selection", "trial_version", "mode"])
        state.param.watch(self._move_marker, ["current_z"])

    def rebuild(self) -> None:
        """Build the plot of the focus pair with fresh streams, keeping the zoom when the pair is unchanged."""
        s = self.state
        if s.trial is None:
            return
        fx, fy = s.focus
        if fx == fy:
            self.message.object, self.message.visible = "The focus plot needs two dimensions.", True
            self.pane.object = None
            return
        self.message.visible = False
        layers, base = self._layers(fx, fy)
        self._attach_streams(base)
        limits = {}
        if self._ranges[0] == (s.mode, fx, fy) and self._ranges[1] is not None:
            limits = {"xlim": self._ranges[1], "ylim": self._ranges[2]}  # keep the zoom across repaints
        rgb_options = hv.opts.RGB(
            frame_width=FOCUS_SIZE,
            frame_height=FOCUS_SIZE,
            tools=["hover", "box_select", "lasso_select", "tap"],
            active_tools=["wheel_zoom"],
            title=f"{s.coordinate_names[fy]} against {s.coordinate_names[fx]}",
            **limits,
        )
        self.pane.object = (layers * hv.DynamicMap(_focus_marker, streams=[self._marker_pipe])).opts(rgb_options)
        self._move_marker()

    def _layers(self, fx: int, fy: int) -> tuple[hv.DynamicMap, hv.DynamicMap]:
        """The datashaded layers (all samples; the selection over them in grey) and the layer the streams attach to."""
        s, colouring = self.state, self.state.colouring
        names = s.coordinate_names
        frame = pd.DataFrame(
            {
                "x": s.columns[fx],
                "y": s.columns[fy],
                "sample": s.latents["sample"].to_numpy(),
                "category": pd.Categorical.from_codes(colouring.codes, categories=list(colouring.names)),
            }
        )
        kdims = [hv.Dimension("x", label=names[fx]), hv.Dimension("y", label=names[fy])]
        visible = s.visible_mask()
        points = hv.Points(frame[visible], kdims, ["sample", "category"])
        key = dict(zip(colouring.names, colouring.colors))
        hover = {"selector": ds.first("sample")}  # hover shows the sample under the cursor, not only counts
        if s.selection is None:
            base = dynspread(shade(rasterize(points, aggregator=ds.count_cat("category"), **hover), color_key=key))
            return base, base
        base = dynspread(shade(rasterize(points, aggregator=ds.count(), **hover), cmap=UNSELECTED_CMAP))
        if not (visible & s.selection).any():
            return base, base  # datashader cannot aggregate an empty categorical frame
        chosen = hv.Points(frame[visible & s.selection], kdims, ["sample", "category"])
        return base * dynspread(shade(rasterize(chosen, aggregator=ds.count_cat("category")), color_key=key)), base

    def _attach_streams(self, source: hv.DynamicMap) -> None:
        self.box = hv.streams.BoundsXY(source=source)
        self.lasso = hv.streams.Lasso(source=source)
        self.tap = hv.streams.Tap(source=source, transient=True)
        self.pointer = hv.streams.PointerXY(source=source)
        self.range = hv.streams.RangeXY(source=source)
        self.box.add_subscriber(lambda bounds=None: bounds is not None and self.state.select_box(bounds))
        self.lasso.add_subscriber(self._on_lasso)
        self.tap.add_subscriber(self._on_pick)
        self.pointer.add_subscriber(lambda x=None, y=None: self.pick.value == "hover" and self._on_pick(x, y))
        self.range.add_subscriber(self._on_range)

    def _on_lasso(self, geometry: np.ndarray | None = None) -> None:
        if geometry is not None and len(geometry) >= 3:
            self.state.select_lasso(geometry[:, 0], geometry[:, 1])

    def _on_pick(self, x: float | None = None, y: float | None = None) -> None:
        """Make the sample nearest to a click (or the cursor) current."""
        if x is None or y is None:
            return
        s = self.state
        fx, fy = s.focus
        visible = np.flatnonzero(s.visible_mask())
        x_values, y_values = s.columns[fx][visible], s.columns[fy][visible]
        if self._ranges[0] == (s.mode, fx, fy) and self._ranges[1] is not None:
            spans = (np.ptp(self._ranges[1]), np.ptp(self._ranges[2]))  # distances as they look at this zoom
        else:
            spans = (float(np.ptp(x_values)), float(np.ptp(y_values)))
        nearest = nearest_sample(x_values, y_values, (x, y), spans)
        s.go_to_row(int(visible[nearest]))

    def _on_range(self, x_range: tuple | None = None, y_range: tuple | None = None) -> None:
        if x_range is not None and y_range is not None:
            self._ranges = ((self.state.mode, *self.state.focus), tuple(x_range), tuple(y_range))

    def _move_marker(self, *_: Any) -> None:
        s = self.state
        if s.trial is not None and s.current_z is not None and s.focus[0] != s.focus[1]:
            point = s.current_z if s.mode == "latent" else s.pca.transform(s.current_z, s.latent_dim)
            self._marker_pipe.send(np.array([[point[s.focus[0]], point[s.focus[1]]]]))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(pn.pane.Markdown("Pick a sample by"), self.pick), self.message, self.pane)


class SelectionView(pn.viewable.Viewer):
    """The selection's size and class mix, how new selections combine, invert and clear."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.mode = pn.widgets.RadioButtonGroup.from_param(state.param.selection_mode, label="New selections")
        self.invert = pn.widgets.Button(label="Invert")
        self.clear = pn.widgets.Button(label="Clear")
        self.invert.on_click(lambda _: state.invert_selection())
        self.clear.on_click(lambda _: state.clear_selection())
        self.summary = pn.pane.Markdown(self.describe(), css_classes=["ls-selection"])
        state.param.watch(lambda *_: setattr(self.summary, "object", self.describe()), ["selection", "trial_version"])

    def describe(self) -> str:
        """'N of M selected' with the count a class."""
        s = self.state
        if s.trial is None or s.selection is None:
            return "Nothing selected: draw a box or a lasso on the focus plot."
        count, mix = s.selection_summary()
        classes = ", ".join(f"class {label}: {n}" for label, n in mix.items()) or "none"
        return f"**{count:,} of {len(s.mu):,} selected** ({100 * count / max(len(s.mu), 1):.1f}%). {classes}"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(self.mode, self.invert, self.clear), self.summary)


def _rgb_element(data: np.ndarray) -> hv.RGB:
    height, width = data.shape[:2]
    return hv.RGB(data, bounds=(0, 0, width, height)).opts(
        frame_width=PLOT_SIZE,
        frame_height=PLOT_SIZE,
        xaxis=None,
        yaxis=None,
        framewise=True,
        tools=["tap"],
        default_tools=["wheel_zoom", "pan", "reset"],
        active_tools=["wheel_zoom"],
    )


def _marker_element(data: tuple[np.ndarray, np.ndarray]) -> hv.Overlay:
    points, segments = data
    cross = hv.Points(points).opts(marker="x", size=11, apply_ranges=False, **MARKER)
    lines = hv.Segments(segments, kdims=["x", "y", "x1", "y1"])
    lines = lines.opts(color=MARKER["color"], line_width=1.5, apply_ranges=False)
    return cross * lines


def _focus_marker(data: np.ndarray) -> hv.Points:
    return hv.Points(data).opts(marker="x", size=16, apply_ranges=False, **MARKER)  # the point never moves the axes


def _legend_css(colours: tuple[str, ...]) -> str:
    """Each legend button gets its category's colour as a thick left border."""
    rules = [
        f".bk-btn-group > .bk-btn:nth-child({i + 1}) {{ border-left: 12px solid {c}; }}" for i, c in enumerate(colours)
    ]
    return "\n".join(rules)


def _gradient_html(colouring: Any) -> str:
    stops = ", ".join(colouring.colors)
    low, high = colouring.names[0].split("–")[0], colouring.names[-1].split("–")[-1]
    bar = f"<div style='width:240px;height:12px;background:linear-gradient(to right, {stops})'></div>"
    return f"<b>{colouring.column}</b> {low} {bar} {high}"
