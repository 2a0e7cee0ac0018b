"""The sweep chooser: a drop-down of the sweeps under RESULTS."""

from __future__ import annotations

import panel as pn
import param

from explorer.page.state import ExplorerState
from explorer.store import ResultsStore


class SweepChooser(pn.viewable.Viewer):
    """A drop-down of the sweeps under RESULTS; hidden when there is only one."""

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.select = pn.widgets.Select(label="Sweep", options=[], sizing_mode="stretch_width")
        self.select.param.watch(self._chosen, "value")
        self.refresh()

    def refresh(self) -> None:
        """Look for sweeps again (a new sweep folder appears without a restart)."""
        sweeps = self.store.sweeps()
        if sweeps != self.select.options:
            self.select.options = sweeps
        self.select.visible = len(sweeps) > 1
        if self.state.sweep not in sweeps:
            self.select.value = sweeps[0]
            self.state.sweep = sweeps[0]

    def _chosen(self, event: param.parameterized.Event) -> None:
        if event.new is not None and event.new != self.state.sweep:
            self.state.trial_id = None
            self.state.sweep = event.new

    def __panel__(self) -> pn.viewable.Viewable:
        return self.select
