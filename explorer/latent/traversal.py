"""Pictures of latent paths, decoded in one batch each: the unlabelled traversal grid, interpolations and class strips
(the traversal's points and its labelled picture: vaemodels)."""

from __future__ import annotations

import numpy as np

from explorer.images import GAP_VALUE, tile
from vaemodels import VAE, decode, traversal_images

GRID_TILE = 64  # pixels a side of one grid or strip image
STRIP_COLUMNS = 5  # class images a row of the class strip


def traversal_grid(
    model: VAE,
    z: np.ndarray,
    axes: np.ndarray,
    coordinates: np.ndarray,
    ranges: np.ndarray,
    steps: int = 10,
    label: int | None = None,
) -> np.ndarray:
    """The images of `traversal_images` as one unlabelled image, a row a traversed axis."""
    return tile(traversal_images(model, z, axes, coordinates, ranges, steps, label), len(axes), steps)


def interpolation(z_from: np.ndarray, z_to: np.ndarray, steps: int) -> np.ndarray:
    """(steps, d) points on the straight line from z_from to z_to, both ends included."""
    weights = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - weights) * np.asarray(z_from, np.float64) + weights * np.asarray(z_to, np.float64)


def interpolation_strip(
    model: VAE, z_from: np.ndarray, z_to: np.ndarray, steps: int = 10, label: int | None = None
) -> np.ndarray:
    """The decoded interpolation from z_from to z_to as one strip image."""
    return tile(decode(model, interpolation(z_from, z_to, steps), label), 1, steps)


def class_strip(model: VAE, z: np.ndarray, num_classes: int) -> np.ndarray:
    """What one z decodes to under every class label (conditional decoders), `STRIP_COLUMNS` a row: ten classes
    in one row would widen the decoded column past the workbench's screen."""
    points = np.repeat(np.atleast_2d(np.asarray(z, np.float64)), num_classes, axis=0)  # (K, d)
    images = decode(model, points, np.arange(num_classes))  # (K, H, W[, C])
    cols = min(num_classes, STRIP_COLUMNS)
    rows = -(-num_classes // cols)
    blank = np.full((rows * cols - num_classes, *images.shape[1:]), GAP_VALUE, np.uint8)
    return tile(np.concatenate([images, blank]), rows, cols)
