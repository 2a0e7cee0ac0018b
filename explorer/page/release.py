"""Letting a closed session's page go: what would otherwise keep it in memory after Bokeh has dropped the session.

Panel keeps its JavaScript links (`jslink`, `jscallback`, used inside widgets such as EditableRangeSlider) in a
process-wide registry keyed weakly by the source widget. Each link holds its target strongly, and the target leads back
to the source, so the key never dies: every session's widgets, views and data stayed in memory, and every later page
render walked the grown registry. Forgetting a page's links when its session ends breaks that cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

import panel as pn
from panel.links import Callback


def release_links(roots: Iterable[pn.viewable.Viewable]) -> int:
    """Forget the links registered for every object under `roots`; how many sources had some."""
    released = 0
    for root in roots:
        for obj in root.select():
            if Callback.registry.pop(obj, None) is not None:
                released += 1
    return released


def linked_sources(roots: Iterable[pn.viewable.Viewable]) -> int:
    """How many objects under `roots` the link registry holds."""
    return sum(obj in Callback.registry for root in roots for obj in root.select())
