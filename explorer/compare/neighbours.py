"""A picked sample's k nearest samples in latent space (Euclidean on the posterior means)."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors


def nearest_samples(codes: np.ndarray, row: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(rows, distances) of the k samples nearest to `codes[row]`, nearest first, the sample itself left out."""
    codes = np.asarray(codes, dtype=np.float64)
    if not 0 <= row < len(codes):
        raise ValueError(f"sample row {row} is outside the {len(codes)} samples")
    if not 1 <= k < len(codes):
        raise ValueError(f"k must be between 1 and {len(codes) - 1}; got {k}")
    distances, rows = NearestNeighbors(n_neighbors=k + 1).fit(codes).kneighbors(codes[row : row + 1])
    keep = rows[0] != row
    return rows[0][keep][:k], distances[0][keep][:k]
