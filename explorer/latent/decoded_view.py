"""The current latent point decoded live; for conditional decoders, its class and the same z in every class."""

from __future__ import annotations

from typing import Any

import numpy as np
import panel as pn
import param

from explorer.images import to_png
from explorer.latent.state import LatentState
from explorer.latent.traversal import GRID_TILE, class_strip
from explorer.page.scheduling import LatestOnly
from vaemodels import upscale_factor

DISPLAY_SIZE = 160  # pixels a side that the decoded image is upscaled to (nearest neighbour, whole factors)


class DecodedView(pn.viewable.Viewer):
    """The current point decoded live; for conditional decoders, the class it is given and the same z in every class."""

    def __init__(self, state: LatentState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.image: np.ndarray | None = None  # the last decoded image, uint8
        self.pane = pn.pane.PNG(None, css_classes=["ls-decoded"], width=170, height=170)
        self.label = pn.widgets.Select(label="Decoder class", width=150, visible=False)
        self.strip = pn.pane.PNG(None, css_classes=["ls-class-strip"], visible=False)
        self.label.param.watch(self._label_chosen, "value")
        self._refresh_later = LatestOnly(self.refresh, off_loop=True)  # decoding and PNG encoding: no models
        state.param.watch(self._refresh_later, ["current_z", "label", "trial_version"])
        state.param.watch(self._sync_label, ["trial_version", "label"])

    def refresh(self) -> None:
        """Decode the current point and show it (and the class strip)."""
        s = self.state
        if s.trial is None:
            return
        self.image = s.decode_current()
        self.pane.object = to_png(self.image, upscale_factor(self.image.shape[0], DISPLAY_SIZE))
        if s.conditional:
            strip = class_strip(s.model, s.current_z, s.trial.config.num_classes)
            self.strip.object = to_png(strip, upscale_factor(self.image.shape[0], GRID_TILE))

    def _sync_label(self, *_: Any) -> None:
        s = self.state
        self.label.visible = self.strip.visible = s.trial is not None and s.conditional
        if self.label.visible:
            self.label.options = list(range(s.trial.config.num_classes))
            self.label.value = s.label

    def _label_chosen(self, event: param.parameterized.Event) -> None:
        if self.state.trial is not None and event.new is not None:
            self.state.label = int(event.new)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.pane, self.label, self.strip)
