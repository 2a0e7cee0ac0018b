"""The selected trial's reconstructions: original validation images above their decoded posterior means."""

from __future__ import annotations

import numpy as np
import panel as pn

from explorer.images import tile, to_png
from explorer.store import Reconstructions
from explorer.trial.view import Notice, TrialView
from vaemodels import to_uint8, upscale_factor

SAMPLES = 12
PIXELS = 64  # each image is shown about this size (whole-factor nearest-neighbour upscaling keeps pixels sharp)


def mosaic(rows: list[np.ndarray]) -> np.ndarray:
    """Images (n, C, H, W) in [0, 1], one list entry a row of the same length, as one uint8 picture."""
    return tile(to_uint8(np.concatenate(rows)), len(rows), len(rows[0]))


class ReconstructionsView(TrialView):
    """A grid of validation images (top row) beside their reconstructions (bottom row)."""

    what = "reconstructions"

    def __init__(self, *args, samples: int = SAMPLES, **params) -> None:
        self.samples = samples
        super().__init__(*args, **params)

    def setup(self) -> None:
        self.image = pn.pane.PNG(None)
        self.caption = pn.pane.HTML()
        self.content = [self.image, self.caption]

    def clear(self) -> None:
        self.result: Reconstructions | None = None
        self.picture: np.ndarray | None = None

    def render(self, sweep: str, trial_id: str) -> Notice | None:
        result = self.store.reconstructions(sweep, trial_id, self.samples)
        self.result = result
        rows = [result.decoded] if result.originals is None else [result.originals, result.decoded]
        self.picture = mosaic(rows)
        scale = upscale_factor(result.decoded.shape[-1], PIXELS)
        height, width = self.picture.shape[:2]
        self.image.param.update(object=to_png(self.picture, scale), width=width * scale, height=height * scale)
        caption = (
            "top: validation images; bottom: their reconstructions (decoder at the posterior mean)"
            if result.originals is not None
            else "decoded posterior means of validation samples (the original images are unavailable)"
        )
        labels = ", ".join(str(label) for label in result.labels)
        self.caption.object = f"<small style='color:#555'>{caption}; labels: {labels}</small>"
        if result.originals_error:
            return result.originals_error, "warning"
        return None
