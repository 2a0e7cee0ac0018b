"""HoloViews set-up shared by the views: the Bokeh backend, one palette, one way to wrap a plot in a pane."""

from __future__ import annotations

from collections.abc import Callable

import holoviews as hv
import panel as pn

hv.extension("bokeh", logo=False)

# Colour-blind-safe (Okabe-Ito), one colour an architecture / split.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def hv_pane(plot: hv.core.Dimensioned, **params) -> pn.pane.HoloViews:
    """A HoloViews pane that stretches with the page."""
    return pn.pane.HoloViews(plot, sizing_mode="stretch_width", **params)


def edit_bokeh(change: Callable[[], None]) -> None:
    """Run `change` (edits of Bokeh models: data, ranges, titles) the way Panel edits its own models: right away
    and dispatched to the browser when the session allows it, else on the next tick under the document lock."""

    def dispatched() -> None:
        with pn.io.unlocked():
            change()

    pn.state.execute(dispatched)
