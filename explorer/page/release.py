"""Letting a closed session's page go: what would otherwise keep it in memory after Bokeh has dropped the session.

Panel keeps its JavaScript links (`jslink`, `jscallback`, used inside widgets such as EditableRangeSlider) in a
process-wide registry keyed weakly by the source widget. Each link holds its target strongly, and the target leads back
to the source, so the key never dies: every session's widgets, views and data stayed in memory, and every later page
render walked the grown registry. Forgetting a page's links when its session ends breaks that cycle.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Iterable

import panel as pn
from panel.links import Callback
from tornado.ioloop import IOLoop


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


def give_back_memory() -> None:
    """Collect the cycles a dropped page leaves (Bokeh models and Panel views refer to each other) and hand the
    freed heap back to the system: without `malloc_trim`, glibc keeps it for later and the process never shrinks."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: later sessions reuse the memory instead
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def give_back_memory_soon(delay_s: float = 1.0) -> None:
    """`give_back_memory` on the event loop shortly after the current callback (a session being destroyed still
    holds its document until Bokeh has finished dropping it)."""
    IOLoop.current().call_later(delay_s, give_back_memory)
