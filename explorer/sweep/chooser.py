"""The sweep chooser: a drop-down of the sweeps under RESULTS, or the name of the only one."""

from __future__ import annotations

import html

import panel as pn
import param

from explorer.page.state import ExplorerState
from explorer.store import ResultsStore


class SweepChooser(pn.viewable.Viewer):
    """A drop-down of the sweeps under RESULTS; with only one, its name instead (RESULTS may be its parent folder)."""

    def __init__(self, store: ResultsStore, state: ExplorerState, **params) -> None:
        super().__init__(**params)
        self.store, self.state = store, state
        self.select = pn.widgets.Select(label="Sweep", options=[], sizing_mode="stretch_width")
        self.select.param.watch(self._chosen, "value")
        self.sweep_name = pn.pane.HTML("", css_classes=["ls-sweep-name"], sizing_mode="stretch_width")
        self.refresh()

    def refresh(self) -> None:
        """Look for sweeps again (a new sweep folder appears without a restart)."""
        sweeps = self.store.sweeps()
        if sweeps != self.select.options:
            self.select.options = sweeps
        self.select.visible = len(sweeps) > 1
        self.sweep_name.visible = len(sweeps) == 1
        self.sweep_name.object = f"<p style='font-size:14px'><b>sweep</b><br>{html.escape(sweeps[0])}</p>"
        if self.state.sweep not in sweeps:
            self.select.value = sweeps[0]
            self.state.sweep = sweeps[0]

    def _chosen(self, event: param.parameterized.Event) -> None:
        if event.new is not None and event.new != self.state.sweep:
            self.state.trial_id = None
            self.state.sweep = event.new

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.select, self.sweep_name, sizing_mode="stretch_width")
