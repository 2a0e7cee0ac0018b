"""uint8 pictures the views show: one tiler for every grid and strip, and PNG bytes. The reconstructions, the
traversal grid, the interpolation and the class strips all go through here (vaemodels makes the uint8 images)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

GAP = 2  # pixels between the images of a grid or strip, before upscaling
GAP_VALUE = 255  # white


def tile(images: np.ndarray, rows: int, cols: int, gap: int = GAP) -> np.ndarray:
    """(rows * cols, H, W[, C]) uint8 images -> one image, row-major, `gap` white pixels between them."""
    if len(images) != rows * cols:
        raise ValueError(f"tiling {rows} x {cols} needs {rows * cols} images, got {len(images)}")
    h, w = images.shape[1:3]
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, *images.shape[3:]), GAP_VALUE, np.uint8)
    for index, image in enumerate(images):
        r, c = divmod(index, cols)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return out


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of one uint8 image (H, W) or (H, W, C), upscaled by a whole factor with nearest neighbour."""
    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # speed over size: these travel to a local browser
    return buffer.getvalue()
