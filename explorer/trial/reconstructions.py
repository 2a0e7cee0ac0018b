"""The selected trial's reconstructions: original validation images above their decoded posterior means."""

from __future__ import annotations

import io

import numpy as np
import panel as pn
from PIL import Image

from explorer.store import Reconstructions
from explorer.trial.view import Notice, TrialView

SAMPLES = 12
PIXELS = 64  # each image is shown at this size (nearest-neighbour upscaling keeps pixels sharp)
GAP = 4
BACKGROUND = 255


def mosaic(rows: list[np.ndarray], pixels: int = PIXELS, gap: int = GAP) -> np.ndarray:
    """Images (n, C, H, W) in [0, 1], one list entry a row, as one uint8 picture (height, width, 3)."""
    n = max(len(row) for row in rows)
    picture = np.full((len(rows) * (pixels + gap) - gap, n * (pixels + gap) - gap, 3), BACKGROUND, np.uint8)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            tile = np.clip(image * 255, 0, 255).astype(np.uint8).transpose(1, 2, 0)  # (H, W, C)
            if tile.shape[2] == 1:
                tile = np.repeat(tile, 3, axis=2)
            tile = np.asarray(Image.fromarray(tile).resize((pixels, pixels), Image.NEAREST))
            top, left = r * (pixels + gap), c * (pixels + gap)
            picture[top : top + pixels, left : left + pixels] = tile
    return picture


def png_bytes(picture: np.ndarray) -> bytes:
    """A (height, width, 3) uint8 array as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


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
        self.image.param.update(
            object=png_bytes(self.picture), width=self.picture.shape[1], height=self.picture.shape[0]
        )
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
