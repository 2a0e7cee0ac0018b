"""Attribute vectors (White 2016, "Sampling Generative Networks", sec. 2.3; Liu et al. 2019, "Latent Space
Cartography"): the difference of two selections' centroids in z is a direction; samples are coloured by their
projection onto it, and codes along it from a picked sample are decoded into a strip."""

from __future__ import annotations

import numpy as np


def attribute_vector(codes: np.ndarray, towards: np.ndarray, away_from: np.ndarray) -> np.ndarray:
    """mean(codes[towards]) - mean(codes[away_from]), (d,); `towards` and `away_from` are boolean masks over rows."""
    codes = np.asarray(codes, dtype=np.float64)
    towards, away_from = _mask(towards, len(codes), "towards"), _mask(away_from, len(codes), "away_from")
    return codes[towards].mean(axis=0) - codes[away_from].mean(axis=0)


def rest_of(mask: np.ndarray) -> np.ndarray:
    """Every row not in `mask` (a class against the rest)."""
    return ~np.asarray(mask, dtype=bool)


def projection(codes: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Each row's signed length along the vector's direction, (N,): codes @ v / |v|."""
    vector = np.asarray(vector, dtype=np.float64)
    length = float(np.linalg.norm(vector))
    if length == 0.0:
        raise ValueError("the attribute vector is zero: the two selections have the same centroid")
    return np.asarray(codes, dtype=np.float64) @ vector / length


def strip_along(start: np.ndarray, vector: np.ndarray, steps: int = 7, reach: float = 1.0) -> np.ndarray:
    """Codes start + t * vector for t evenly from -reach to +reach, (steps, d): the middle one is `start`
    when steps is odd."""
    if steps < 2:
        raise ValueError(f"a strip needs at least 2 steps; got {steps}")
    amounts = np.linspace(-reach, reach, steps)  # (steps,)
    return np.asarray(start, dtype=np.float64)[None, :] + amounts[:, None] * np.asarray(vector, dtype=np.float64)


def _mask(mask: np.ndarray, n_rows: int, name: str) -> np.ndarray:
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (n_rows,):
        raise ValueError(f"{name} must be a boolean mask over the {n_rows} samples; got shape {mask.shape}")
    if not mask.any():
        raise ValueError(f"the {name} selection is empty")
    return mask
