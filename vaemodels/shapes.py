"""Procedural dSprites-like sprites: factors on the dSprites grids, rendered as binary images with numpy."""

from __future__ import annotations

import numpy as np

SHAPE_NAMES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2.0 * np.pi, 40)  # both ends included, as in dSprites
POSITIONS = np.linspace(0.0, 1.0, 32)
FACTOR_SIZES = (len(SHAPE_NAMES), len(SCALES), len(ORIENTATIONS), len(POSITIONS), len(POSITIONS))
FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")

# Placement rule (dSprites-like): centre at 0.25W + 0.5W*pos; every sprite fits in a circle of diameter 0.45W*scale,
# so no orientation at any position is clipped by the border (edge at most 0.75W + 0.225W = 0.975W).
_CENTRE_OFFSET, _CENTRE_SPAN, _DIAMETER = 0.25, 0.5, 0.45

# The heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 has its smallest enclosing circle at (0, 0.25) with radius 1.25.
_HEART_CENTRE_Y, _HEART_RADIUS = 0.25, 1.25

_CHUNK_PIXELS = 1 << 21  # ~8 MB float32 temporaries a chunk: large enough to amortise numpy overhead, cache-friendly

# Seed streams of the data seed: independent draws for the sprites, the split, the subset and the embedded
# validation rows, so one never shifts another.
STREAM_SHAPES, STREAM_SPLIT, STREAM_SUBSET, STREAM_EMBED = 0, 1, 2, 3


def seeded_rng(seed: int, stream: int) -> np.random.Generator:
    """A generator determined by (seed, stream); any int seed, negatives included."""
    return np.random.default_rng([seed % 2**64, stream])


def draw_factors(n: int, seed: int) -> np.ndarray:
    """(n, 5) int16 factor indices drawn uniformly on the grids; row i depends only on (seed, i)."""
    # One float a cell, drawn row-major, so the first m rows are the same for every n >= m.
    uniform = seeded_rng(seed, STREAM_SHAPES).random((n, len(FACTOR_SIZES)))
    return np.floor(uniform * np.asarray(FACTOR_SIZES)).astype(np.int16)


def make_shapes(n: int, image_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n sprites drawn from seed: factors (n, 5) int16 and images (n, 1, S, S) float32 in {0, 1}."""
    factors = draw_factors(n, seed)
    return factors, render_shapes(factors, image_size)


def render_shapes(factors: np.ndarray, image_size: int) -> np.ndarray:
    """Render (n, 5) factor indices to (n, 1, S, S) float32 binary images."""
    factors = _check_factors(factors)
    if image_size < 1:
        raise ValueError(f"image_size={image_size} is invalid: expected a positive integer")
    images = np.zeros((len(factors), 1, image_size, image_size), dtype=np.float32)
    chunk = max(1, _CHUNK_PIXELS // (image_size * image_size))
    for shape in range(len(SHAPE_NAMES)):
        # Evaluate only the inequality of the shape each row has, chunk by chunk, to bound memory.
        rows = np.flatnonzero(factors[:, 0] == shape)
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            u, v = _sprite_coordinates(factors[part], image_size)
            images[part, 0] = _inside(shape, u, v)
    return images


def _check_factors(factors: np.ndarray) -> np.ndarray:
    """Validate factor indices against the grids, naming the first bad column."""
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_SIZES):
        raise ValueError(f"factors must have shape (n, {len(FACTOR_SIZES)}) {FACTOR_NAMES}, got {factors.shape}")
    factors = factors.astype(np.int64)
    for column, (name, size) in enumerate(zip(FACTOR_NAMES, FACTOR_SIZES, strict=True)):
        values = factors[:, column]
        if len(values) and (values.min() < 0 or values.max() >= size):
            raise ValueError(f"factor {name!r} has indices outside 0..{size - 1}: {values.min()}..{values.max()}")
    return factors


def _sprite_coordinates(factors: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel centre in each sprite's own frame: unit enclosing circle, v pointing up, rotation undone."""
    scale = SCALES[factors[:, 1]]
    angle = ORIENTATIONS[factors[:, 2]]
    centre_x = size * (_CENTRE_OFFSET + _CENTRE_SPAN * POSITIONS[factors[:, 3]])
    centre_y = size * (_CENTRE_OFFSET + _CENTRE_SPAN * POSITIONS[factors[:, 4]])
    radius = 0.5 * _DIAMETER * size * scale
    pixels = np.arange(size, dtype=np.float32) + np.float32(0.5)
    dx = ((pixels[None, None, :] - centre_x[:, None, None]) / radius[:, None, None]).astype(np.float32)
    # Image rows grow downward; flip so that orientation turns the sprite counter-clockwise on screen.
    up = ((centre_y[:, None, None] - pixels[None, :, None]) / radius[:, None, None]).astype(np.float32)
    cos = np.cos(angle).astype(np.float32)[:, None, None]
    sin = np.sin(angle).astype(np.float32)[:, None, None]
    return cos * dx + sin * up, cos * up - sin * dx


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether each point (u, v) of the unit-circle frame lies inside the given shape."""
    if shape == 0:  # square inscribed in the unit circle
        half = np.float32(np.sqrt(0.5))
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == 1:  # ellipse 2:1, long axis along u at orientation 0
        return u * u + 4.0 * (v * v) <= 1.0
    x = u * np.float32(_HEART_RADIUS)
    y = v * np.float32(_HEART_RADIUS) + np.float32(_HEART_CENTRE_Y)
    x2, y2 = x * x, y * y
    ring = x2 + y2 - 1.0
    return ring * ring * ring <= x2 * y2 * y
