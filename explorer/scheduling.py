"""Coalescing bursts of widget events so that a slow redraw never queues behind stale ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import panel as pn


class LatestOnly:
    """Call `callback` once for a burst of requests, with whatever state is current when it runs.

    In a server session the call waits for the next tick of the event loop: every event already queued (a slider
    dragged on) is applied first, so intermediate states are skipped. Outside a server (tests, scripts) it runs at once.
    """

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._pending = False

    def __call__(self, *_: Any) -> None:
        doc = pn.state.curdoc
        if doc is None or doc.session_context is None:
            self._callback()
            return
        if self._pending:
            return
        self._pending = True
        pn.state.execute(self._run, schedule=True)

    def _run(self) -> None:
        self._pending = False
        self._callback()
