"""TrialView: the base of every per-trial view (placeholder without a selection, errors shown in place).

The layout of a view never changes after it is built: a notice line (placeholder, error or warning) above the
view's own panes, all updated in place and shown or hidden. Replacing a layout's children makes Panel walk every
Bokeh model of the page (0.2-0.4 s a view here); updating a pane's object or data does not.
"""

from __future__ import annotations

import logging

import panel as pn

from explorer.page.boxes import SELECT_A_TRIAL, message_html
from explorer.page.state import ExplorerState
from explorer.store import ResultsError, ResultsStore, TrialUnavailable

log = logging.getLogger(__name__)

Notice = tuple[str, str]  # (text, kind): kind is "hint", "warning" or "error" (see panes.BOX_COLORS)


class NothingToShow(Exception):  # not an error: the trial has nothing for this view yet
    """Raised by `render` when the trial has nothing for this view yet; the message is shown as a hint."""


class TrialView(pn.viewable.Viewer):
    """Re-renders when the selected trial (or the table) changes; subclasses implement `setup` and `render`."""

    what = "details"  # completes "Select a trial ... to see its {what}."

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.error: str | None = None  # the message shown instead of the view, when its files failed
        self.notice: Notice | None = None  # what the notice line says now
        self.shown_trial: str | None = None  # the trial the view shows now
        self.content: list[pn.viewable.Viewable] = []
        self.setup()
        self._notice = pn.pane.HTML(sizing_mode="stretch_width", margin=(5, 5))
        self._body = pn.Column(self._notice, *self.content, sizing_mode="stretch_width")
        state.param.watch(self.update, ["trial_id", "table_version"])
        self.update()

    def update(self, *_: object) -> None:
        """Show the state's trial (or the placeholder, or the error)."""
        self.error, self.shown_trial = None, None
        trial_id, sweep = self.state.trial_id, self.state.sweep
        notice: Notice | None
        if trial_id is None or sweep is None:
            notice = (SELECT_A_TRIAL.format(what=self.what), "hint")
        else:
            try:
                notice = self.render(sweep, trial_id)
                self.shown_trial = trial_id
            except NothingToShow as nothing:
                notice = (str(nothing), "hint")
            except (TrialUnavailable, ResultsError) as failure:
                notice = self._failed(str(failure))
            except Exception as failure:  # a bug must not put a traceback in the page; it goes to the server log
                log.exception("the %s view failed for trial %s", type(self).__name__, trial_id)
                notice = self._failed(f"{type(failure).__name__}: {failure}")
        if self.shown_trial is None:
            self.clear()
        self._show(notice)

    def _failed(self, message: str) -> Notice:
        self.error = message
        return message, "error"

    def _show(self, notice: Notice | None) -> None:
        self.notice = notice
        if notice is not None:
            self._notice.object = message_html(*notice)
        self._notice.visible = notice is not None
        for pane in self.content:
            pane.visible = self.shown_trial is not None

    def setup(self) -> None:
        """Build `self.content`, the panes kept across trials (figures updated in place)."""

    def render(self, sweep: str, trial_id: str) -> Notice | None:
        """Fill the content for one trial; return a notice to show above it, if any. Raise TrialUnavailable when
        the trial's files fail, NothingToShow when there is nothing to show yet."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget the data of the previous trial (subclasses reset what they expose to tests)."""

    def __panel__(self) -> pn.viewable.Viewable:
        return self._body
