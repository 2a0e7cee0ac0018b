"""Write a dataset file of your own: 900 grey 32x32 shapes, every combination of 3 shapes x 3 sizes x 10 x 10 positions.

    python examples/write_own_dataset.py own_shapes.npz

The file is in latentsweep's factor_npz format (docs/own-data.md): train on it with
`latentsweep sweep --dataset-file own_shapes.npz`, or `LATENTSWEEP_DATASETS=own_shapes=$PWD/own_shapes.npz`.
"""

from __future__ import annotations

import itertools
import sys

import numpy as np

SIZE = 32  # pixels a side
SHAPES = ("square", "circle", "triangle")
SCALES = ("small", "medium", "large")
RADII = (3, 5, 7)  # half the width of each scale, in pixels
POSITIONS = 10  # a grid of 10 centres on each axis, from 8 to 24 pixels


def draw(factors: np.ndarray) -> np.ndarray:
    """(N, 4) shape, scale, x, y indices -> (N, SIZE, SIZE) uint8 images, white shapes on black."""
    shape, scale, x, y = (factors[:, i, None, None] for i in range(4))  # each (N, 1, 1)
    radius = np.array(RADII)[scale]
    centre_x, centre_y = 8 + x * 16 / (POSITIONS - 1), 8 + y * 16 / (POSITIONS - 1)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]  # (SIZE, SIZE) each
    dx, dy = cols - centre_x, rows - centre_y  # (N, SIZE, SIZE)
    square = (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    circle = dx**2 + dy**2 <= radius**2
    triangle = (np.abs(dy) <= radius) & (np.abs(dx) <= (dy + radius) / 2)  # pointing up
    inside = np.where(shape == 0, square, np.where(shape == 1, circle, triangle))
    return inside.astype(np.uint8) * 255


def main(path: str) -> None:
    grid = (len(SHAPES), len(SCALES), POSITIONS, POSITIONS)
    factors = np.array(list(itertools.product(*map(range, grid))), dtype=np.int64)  # (900, 4), every combination
    value_names = np.full((4, POSITIONS), "", dtype="<U8")  # a row a factor, padded with "": positions go unnamed
    value_names[0, :3], value_names[1, :3] = SHAPES, SCALES
    np.savez_compressed(
        path,
        images=draw(factors),  # (900, 32, 32) uint8 in 0..255; colour images would be (N, H, W, 3)
        factors=factors,
        factor_names=np.array(["shape", "scale", "pos_x", "pos_y"]),
        labels=factors[:, 0],  # the class a sample belongs to: its shape
        label_names=np.array(SHAPES),  # one name a label value, so the explorer's legend reads square, circle, ...
        factor_value_names=value_names,
    )
    print(f"wrote {len(factors)} images of {SIZE}x{SIZE} to {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "own_shapes.npz")
