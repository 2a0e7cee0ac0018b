"""The straight line between two chosen latent points (picked samples or selection centroids), decoded."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import panel as pn

from explorer.images import to_png
from explorer.latent.state import LatentState
from explorer.latent.traversal import GRID_TILE, interpolation_strip
from vaemodels import upscale_factor

SET_BOTH_ENDS = "Set both ends: pick a sample, or select some, then press a button."


class InterpolationView(pn.viewable.Viewer):
    """The straight line between two chosen points (picked samples or selection centroids), decoded as a strip."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.ends: dict[str, tuple[np.ndarray, str]] = {}  # "A"/"B" -> (z, what it is)
        self.strip: np.ndarray | None = None
        self.steps = pn.widgets.IntSlider(label="Steps", start=2, end=20, value=10, width=200)
        self.pane = pn.pane.PNG(None, css_classes=["ls-interpolation"])
        self.message = pn.pane.Markdown(SET_BOTH_ENDS)
        buttons = []
        for end in ("A", "B"):
            for what in ("picked sample", "selection centroid"):
                button = pn.widgets.Button(label=f"{end} = {what}")
                button.on_click(partial(lambda _, end, what: self.set_end(end, what), end=end, what=what))
                buttons.append(button)
        self.buttons = buttons
        self.steps.param.watch(lambda *_: self.refresh(), "value_throttled")
        state.param.watch(self.clear, ["trial_version"])

    def clear(self, *_: Any) -> None:
        """Forget both ends and the strip: they are points of the previous trial's latent space."""
        self.ends.clear()
        self.strip, self.pane.object, self.message.object = None, None, SET_BOTH_ENDS

    def set_end(self, end: str, what: str) -> None:
        """Make the picked sample or the selection's centroid one end of the line."""
        s = self.state
        if what == "picked sample":
            if s.current_row is None:
                self.message.object = "Pick a sample in the focus plot first."
                return
            self.ends[end] = (
                s.mu[s.current_row].astype(np.float64),
                f"sample {s.latents['sample'].iloc[s.current_row]}",
            )
        else:
            if s.selection is None or not s.selection.any():
                self.message.object = "Select some samples first."
                return
            self.ends[end] = (
                s.mu[s.selection].mean(axis=0).astype(np.float64),
                f"{s.selection.sum()} samples' centroid",
            )
        self.refresh()

    def refresh(self) -> None:
        """Decode the line between A and B when both are set."""
        if self.state.trial is None or len(self.ends) < 2:
            return
        (z_a, what_a), (z_b, what_b) = self.ends["A"], self.ends["B"]
        self.strip = interpolation_strip(self.state.model, z_a, z_b, self.steps.value, self.state.label)
        self.pane.object = to_png(self.strip, upscale_factor(self.state.model.config.data.image_size, GRID_TILE))
        self.message.object = f"From A ({what_a}) to B ({what_b})."

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(pn.Row(*self.buttons), self.steps, self.message, self.pane)
