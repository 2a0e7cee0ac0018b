"""uint8 pictures the views show: float images to uint8, one tiler for every grid and strip, whole-factor upscaling,
PNG bytes. The reconstructions, the traversal grid, the interpolation and the class strips all go through here."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

GAP = 2  # pixels between the images of a grid or strip, before upscaling
GAP_VALUE = 255  # white


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Float images in [0, 1] of shape (B, C, H, W) -> uint8 (B, H, W) for grey, (B, H, W, C) for colour."""
    pixels = (np.clip(images, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return pixels[:, 0] if pixels.shape[1] == 1 else pixels.transpose(0, 2, 3, 1)


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


def upscale_factor(size: int, target: int) -> int:
    """The whole factor that brings an image side closest to `target` pixels without exceeding it (at least 1)."""
    return max(1, target // size)


def to_png(image: np.ndarray, scale: int = 1) -> bytes:
    """PNG bytes of one uint8 image (H, W) or (H, W, C), upscaled by a whole factor with nearest neighbour."""
    picture = Image.fromarray(image)
    if scale > 1:
        picture = picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)  # speed over size: these travel to a local browser
    return buffer.getvalue()
