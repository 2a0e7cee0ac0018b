"""A latent traversal: z moved along chosen coordinates across their ranges, decoded in one batch, and drawn as a
labelled grid at full size or as one coordinate's sweep in an animated GIF. The explorer's traversal grid and
`latentsweep traverse` both draw through here.

Each row of the grid moves one coordinate; its name (with its note, e.g. its KL) stands left of the row and the
coordinate's value under each image, because every row spans its own range. A title above names the sweep, the
trial and where the traversal starts. Tiles are upscaled by a whole factor (nearest neighbour) towards EXPORT_TILE
pixels, so the PNG and the GIF keep every decoded pixel sharp.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from vaemodels.decoding import decode, upscale_factor
from vaemodels.embeddings import mu_columns
from vaemodels.latent_ranges import sweep_ranges
from vaemodels.models import VAE

EXPORT_TILE = 128  # pixels a side a tile is upscaled towards
NAME_WIDTH = 110  # pixels left of the rows for their names
CAPTION_HEIGHT = 18  # pixels under each image for its value
SPACING = 6  # pixels between the images
LINE_HEIGHT = 16  # pixels a line of a row's name or of the title
TITLE_LINES = 2
TITLE_HEIGHT = TITLE_LINES * LINE_HEIGHT + SPACING  # pixels above the rows (or a GIF's image) for the title
BACKGROUND = (255, 255, 255)
TEXT = (40, 40, 40)
FRAME_MS = 150  # how long the GIF shows each step


# ---- the latent points and their images ----------------------------------------------------------------------


def traversal_points(
    z: np.ndarray, axes: np.ndarray, coordinates: np.ndarray, ranges: np.ndarray, steps: int
) -> np.ndarray:
    """Latent points of a traversal grid: row r moves z along axes[r] from coordinates[r] across ranges[r].

    z (d,); axes (R, d) unit directions (rows of the identity, or principal axes); coordinates (R,) the point's
    coordinate along each axis; ranges (R, 2). Returns (R * steps, d), row-major.
    """
    values = traversal_values(ranges, steps)  # (R, steps)
    shifts = values - coordinates[:, None]  # (R, steps): how far each image is from the point along its axis
    points = z[None, None, :] + shifts[:, :, None] * axes[:, None, :]  # (R, steps, d)
    return points.reshape(-1, z.shape[0])


def traversal_values(ranges: np.ndarray, steps: int) -> np.ndarray:
    """(R, steps) the coordinate's value at each image of each row: `steps` even steps across its range."""
    return np.linspace(ranges[:, 0], ranges[:, 1], steps, axis=1)


def traversal_images(
    model: VAE,
    z: np.ndarray,
    axes: np.ndarray,
    coordinates: np.ndarray,
    ranges: np.ndarray,
    steps: int = 10,
    label: int | None = None,
) -> np.ndarray:
    """(R * steps, H, W[, C]) uint8: a row a traversed axis, `steps` decoded images across its range, row-major;
    one batched decoder forward."""
    points = traversal_points(np.asarray(z, np.float64), np.asarray(axes), coordinates, np.asarray(ranges), steps)
    return decode(model, points, label)


@dataclass(frozen=True)
class GridLabels:
    """What the grid says: a name a row, the coordinate's value at each of its images, and a title above."""

    rows: tuple[str, ...]  # lines split at "\n"
    values: np.ndarray  # (rows, steps)
    title: tuple[str, ...] = ()  # at most TITLE_LINES lines: the sweep and trial, where the traversal starts


def traversal_title(sweep: str, trial_id: str, start: str, range_kind: str) -> tuple[str, str]:
    """The title's two lines: `sweep S · trial T`, and where the traversal starts and what its rows span."""
    return f"sweep {sweep} · trial {trial_id}", f"from {start} · {range_kind} range"


def start_text(row: int | None, sample: int | None = None, label: int | None = None) -> str:
    """Where a traversal starts: the origin, or a sample's posterior mean (by its latents row); and the class given
    to a conditional decoder."""
    start = "the origin (z = 0)" if row is None else f"sample {sample} (latents row {row})"
    return start if label is None else f"{start}, class {label}"


def row_name(dim: int, kl: float) -> str:
    """A row's name: the latent dimension and, on a second line, its KL."""
    return f"z{dim}\nKL {kl:.2f}"


def latent_traversal(
    model: VAE,
    latents: pd.DataFrame,
    dims: Sequence[int],
    steps: int,
    range_kind: str = "embedding",
    row: int | None = None,
    label: int | None = None,
    history: Sequence[dict] = (),
) -> tuple[np.ndarray, np.ndarray, int]:
    """(images, ranges (R, 2), label) of a traversal of latent dimensions `dims` from the mean of latents row `row`
    (the origin when None), each across its `range_kind` range; the decoder's label is `label`, else the row's."""
    latent_dim = model.config.model.latent_dim
    mu = latents[mu_columns(latent_dim)].to_numpy(np.float64)  # (N, d)
    labels = latents["label"].to_numpy(np.int64) if "label" in latents.columns else None
    z = np.zeros(latent_dim) if row is None else mu[row]
    if label is None:
        label = int(labels[row]) if row is not None and labels is not None and labels[row] >= 0 else 0
    ranges = sweep_ranges(mu, range_kind, np.zeros(latent_dim), z, labels, label)[list(dims)]
    axes = np.eye(latent_dim)[list(dims)]
    return traversal_images(model, z, axes, z[list(dims)], ranges, steps, label), ranges, label


# ---- the pictures ----------------------------------------------------------------------------------------------


def value_label(name: str, value: float) -> str:
    """The caption of one image: `z3 = 0.52`."""
    return f"{name} = {value:.3g}"


def export_scale(image_size: int) -> int:
    """The whole factor that brings a decoded image of `image_size` pixels nearest EXPORT_TILE."""
    return upscale_factor(image_size, EXPORT_TILE)


def grid_size(rows: int, steps: int, tile_px: int) -> tuple[int, int]:
    """(width, height) in pixels of a labelled grid of upscaled tiles `tile_px` pixels a side."""
    width = NAME_WIDTH + steps * tile_px + (steps - 1) * SPACING
    height = TITLE_HEIGHT + rows * (tile_px + CAPTION_HEIGHT) + (rows - 1) * SPACING
    return width, height


def tile_origin(row: int, step: int, tile_px: int) -> tuple[int, int]:
    """(top, left) pixel of one tile in a labelled grid."""
    return TITLE_HEIGHT + row * (tile_px + CAPTION_HEIGHT + SPACING), NAME_WIDTH + step * (tile_px + SPACING)


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
    _draw_title(draw, labels.title, 4, "la", font)
    return np.asarray(picture)


def sweep_gif(
    images: np.ndarray,
    name: str,
    values: np.ndarray,
    scale: int,
    title: Sequence[str] = (),
    frame_ms: int = FRAME_MS,
) -> bytes:
    """An animated GIF, looping, of one coordinate's sweep: a frame an image, the title above it and the value
    under it; frames widen past the image when the title needs it (see `gif_size`)."""
    if len(images) != len(values) or len(images) == 0:
        raise ValueError(f"a sweep needs one value an image, got {len(images)} images and {len(values)} values")
    tile_px = images.shape[1] * scale
    font = ImageFont.load_default(size=12)
    width, height = gif_size(tile_px, title)
    frames = []
    for image, value in zip(images, values):
        frame = Image.new("RGB", (width, height), BACKGROUND)
        frame.paste(_upscaled(image, scale), ((width - tile_px) // 2, TITLE_HEIGHT))
        draw = ImageDraw.Draw(frame)
        _draw_title(draw, title, width / 2, "ma", font)
        caption = value_label(name, value)
        draw.text((width / 2, TITLE_HEIGHT + tile_px + 2), caption, fill=TEXT, font=font, anchor="ma")
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return buffer.getvalue()


def gif_size(tile_px: int, title: Sequence[str] = ()) -> tuple[int, int]:
    """(width, height) of a GIF frame: the title band, the image and its caption; as wide as the widest title line."""
    font = ImageFont.load_default(size=12)
    text = max((int(font.getlength(line)) + 2 * SPACING for line in title), default=0)
    return max(tile_px, text), TITLE_HEIGHT + tile_px + CAPTION_HEIGHT


def _draw_title(draw: ImageDraw.ImageDraw, title: Sequence[str], x: float, anchor: str, font) -> None:
    """At most TITLE_LINES lines of title at the top, from `x` (anchored "la" left, "ma" centred)."""
    if len(title) > TITLE_LINES:
        raise ValueError(f"a title has at most {TITLE_LINES} lines, got {len(title)}")
    for k, line in enumerate(title):
        draw.text((x, 2 + k * LINE_HEIGHT), line, fill=TEXT, font=font, anchor=anchor)


def _upscaled(image: np.ndarray, scale: int) -> Image.Image:
    """One uint8 image (H, W) or (H, W, C) as an RGB picture, `scale` times larger with nearest neighbour."""
    picture = Image.fromarray(image).convert("RGB")
    return picture.resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST) if scale > 1 else picture
