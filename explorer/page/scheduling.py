"""Keeping the page responsive: coalescing bursts of widget events, and running slow updates off the event loop.

A served page has one event loop a process: while a callback runs on it, no click of any session is handled. Panel lets
other threads change widgets and panes (it queues the model updates onto the loop, with the session's document set),
so slow pure work (reading files, aggregating, decoding) can run on a worker thread while the loop keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import panel as pn
from panel.io.state import set_curdoc

log = logging.getLogger(__name__)

# Few threads for every session together: the work is CPU-bound and the machines have few cores.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="explorer-background")
_THREAD = threading.local()  # `.worker` is True on a LatestJob's worker while it runs


def on_worker() -> bool:
    """True when called from a LatestJob's worker thread (not from the event loop)."""
    return getattr(_THREAD, "worker", False)


def _served(doc: Any) -> bool:
    return doc is not None and doc.session_context is not None


class LatestOnly:
    """Call `callback` once for a burst of requests, with whatever state is current when it runs.

    In a server session the call waits for the next tick of the event loop: every event already queued (a slider
    dragged on) is applied first, so intermediate states are skipped. Outside a server (tests, scripts) it runs at once.
    With `off_loop=True` the callback runs on a worker thread instead (at once when asked from a LatestJob's worker),
    so that pure work such as aggregating or decoding never holds the loop; its widget and pane changes still reach
    the page through the loop, and a callback that edits Bokeh models directly must do so through `edit_bokeh`.
    """

    def __init__(self, callback: Callable[[], None], off_loop: bool = False) -> None:
        self._callback = callback
        self._job = LatestJob(lambda _request, _is_stale: callback()) if off_loop else None
        self._pending = False

    def __call__(self, *_: Any) -> None:
        if not _served(pn.state.curdoc) or (self._job is not None and on_worker()):
            self._callback()
        elif self._job is not None:
            self._job.submit(None)
        elif not self._pending:
            self._pending = True
            pn.state.execute(self._run, schedule=True)

    def _run(self) -> None:
        self._pending = False
        self._callback()


class LatestJob:
    """Runs `work(request, is_stale)` for the latest request only, on a worker thread when the page is served.

    A request made while one runs replaces any that waits, so a burst of requests runs at most twice: the running one
    and the latest. `is_stale()` turns True as soon as a newer request arrives; `work` checks it between its slow steps
    and drops what it was doing. Outside a server the work runs at once, in the caller's thread.
    """

    def __init__(self, work: Callable[[Any, Callable[[], bool]], None]) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._latest: Any = None
        self._version = 0  # bumped by each request
        self._running = False

    @property
    def busy(self) -> bool:
        """True while a request waits or runs."""
        return self._running

    def submit(self, request: Any) -> None:
        """Ask for `request` to be done; a request that has not started yet is dropped."""
        doc = pn.state.curdoc
        with self._lock:
            self._latest, self._version = request, self._version + 1
            version = self._version
            if _served(doc) and self._running:
                return  # the running worker takes the latest request when it is done
            self._running = _served(doc)
        if _served(doc):
            _POOL.submit(self._drain, doc)
        else:
            self._work(request, lambda: self._version != version)

    def _drain(self, doc: Any) -> None:
        """Worker thread: do the latest request until no newer one came in meanwhile."""
        _THREAD.worker = True
        try:
            while True:
                with self._lock:
                    request, version = self._latest, self._version
                with set_curdoc(doc):
                    try:
                        self._work(request, lambda v=version: self._version != v)
                    except Exception:  # work reports its own failures; this keeps the worker alive for the next
                        log.exception("background update failed for %r", request)
                with self._lock:
                    if self._version == version:
                        self._running = False
                        return
        finally:
            _THREAD.worker = False
