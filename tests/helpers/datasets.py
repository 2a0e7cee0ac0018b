"""Small dataset files in their real formats, written by the tests."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from vaemodels.npz_files import DSPRITES_FILE

GRID = (1, 3, 6, 2, 2, 2)  # colour, shape, scale, orientation, posX, posY: 144 images, a corner of dSprites' grid


def tiny_dsprites() -> dict[str, np.ndarray]:
    """The keys, dtypes and layout of DeepMind's file, on a small grid, with random binary images."""
    classes = np.array(list(itertools.product(*(range(size) for size in GRID))), dtype=np.int64)  # (144, 6)
    images = np.random.default_rng(0).integers(0, 2, (len(classes), 64, 64), dtype=np.uint8)
    return {"imgs": images, "latents_classes": classes, "latents_values": classes.astype(np.float64) / 10}


def write_dsprites(folder: Path) -> dict[str, np.ndarray]:
    """A tiny dSprites file in `folder`; returns its arrays."""
    arrays = tiny_dsprites()
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / DSPRITES_FILE, **arrays)
    return arrays


def write_factor_grid(path: Path, grid: tuple[int, ...] = (3, 4, 5), size: int = 16) -> Path:
    """A factor_npz file: one grey size x size image for every combination of the grid's factors, seeded."""
    factors = np.array(list(itertools.product(*(range(n) for n in grid))), dtype=np.int64)  # (N, k)
    images = np.random.default_rng(2).integers(0, 256, (len(factors), size, size), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=images, factors=factors)
    return path
