"""The traversal grid as a labelled picture at full size, and one row's sweep as an animated GIF.

Each row of the grid moves one coordinate; its name (with its note, e.g. its KL) stands left of the row and the
coordinate's value under each image, because every row spans its own range. Tiles are upscaled by a whole factor
(nearest neighbour) towards EXPORT_TILE pixels, so the PNG and the GIF keep every decoded pixel sharp.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from explorer.images import upscale_factor

EXPORT_TILE = 128  # pixels a side a tile is upscaled towards
NAME_WIDTH = 110  # pixels left of the rows for their names
CAPTION_HEIGHT = 18  # pixels under each image for its value
SPACING = 6  # pixels between the images
LINE_HEIGHT = 16  # pixels a line of a row's name
BACKGROUND = (255, 255, 255)
TEXT = (40, 40, 40)
FRAME_MS = 150  # how long the GIF shows each step


@dataclass(frozen=True)
class GridLabels:
    """What the grid says: a name a row, and the coordinate's value at each of its images."""

    rows: tuple[str, ...]  # lines split at "\n"
    values: np.ndarray  # (rows, steps)


def value_label(name: str, value: float) -> str:
    """The caption of one image: `z3 = 0.52`."""
    return f"{name} = {value:.3g}"


def export_scale(image_size: int) -> int:
    """The whole factor that brings a decoded image of `image_size` pixels nearest EXPORT_TILE."""
    return upscale_factor(image_size, EXPORT_TILE)


def grid_size(rows: int, steps: int, tile_px: int) -> tuple[int, int]:
    """(width, height) in pixels of a labelled grid of upscaled tiles `tile_px` pixels a side."""
    width = NAME_WIDTH + steps * tile_px + (steps - 1) * SPACING
    height = rows * (tile_px + CAPTION_HEIGHT) + (rows - 1) * SPACING
    return width, height


def tile_origin(row: int, step: int, tile_px: int) -> tuple[int, int]:
    """(top, left) pixel of one tile in a labelled grid."""
    return row * (tile_px + CAPTION_HEIGHT + SPACING), NAME_WIDTH + step * (tile_px + SPACING)


def labelled_grid(images: np.ndarray, labels: GridLabels, scale: int) -> np.ndarray:
    """(rows * steps, H, W[, C]) uint8 decoded images, row-major -> one (height, width, 3) uint8 labelled picture."""
    rows, steps = labels.values.shape
    if len(images) != rows * steps:
        raise ValueError(f"a {rows} x {steps} grid needs {rows * steps} images, got {len(images)}")
    tile_px = images.shape[1] * scale
    picture = Image.new("RGB", grid_size(rows, steps, tile_px), BACKGROUND)
    draw = ImageDraw.Draw(picture)
    font, small = ImageFont.load_default(size=13), ImageFont.load_default(size=11)
    for index, image in enumerate(images):
        row, step = divmod(index, steps)
        top, left = tile_origin(row, step, tile_px)
        picture.paste(_upscaled(image, scale), (left, top))
        value = f"{labels.values[row, step]:.3g}"
        draw.text((left + tile_px / 2, top + tile_px + 2), value, fill=TEXT, font=small, anchor="ma")
    for row, name in enumerate(labels.rows):  # a line a part of the name, the lines centred on the row
        top, _ = tile_origin(row, 0, tile_px)
        lines = name.split("\n")
        for k, line in enumerate(lines):
            y = top + tile_px / 2 + (k - len(lines) / 2) * LINE_HEIGHT
            draw.text((4, y), line, fill=TEXT, font=font if k == 0 else small, anchor="la")
    return np.asarray(picture)


def sweep_gif(images: np.ndarray, name: str, values: np.ndarray, scale: int, frame_ms: int = FRAME_MS) -> bytes:
    """An animated GIF, looping, of one coordinate's sweep: a frame an image, each captioned with its value."""
    if len(images) != len(values) or len(images) == 0:
        raise ValueError(f"a sweep needs one value an image, got {len(images)} images and {len(values)} values")
    tile_px = images.shape[1] * scale
    font = ImageFont.load_default(size=12)
    frames = []
    for image, value in zip(images, values):
        frame = Image.new("RGB", (tile_px, tile_px + CAPTION_HEIGHT), BACKGROUND)
        frame.paste(_upscaled(image, scale), (0, 0))
        ImageDraw.Draw(frame).text(
            (tile_px / 2, tile_px + 2), value_label(name, value), fill=TEXT, font=font, anchor="ma"
        )
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def _upscaled(image: np.ndarray, scale: int) -> Image.Image:
    """One uint8 image (H, W) or (H, W, C) as an RGB picture, `scale` times larger with nearest neighbour."""
    picture = Image.fromarray(image).convert("RGB")
    return picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST) if scale > 1 else picture
