"""Numbers behind the latent views: KL per dimension, PCA of the means, selections, class statistics, slider ranges."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numba
import numpy as np
import pandas as pd

PRIOR_QUANTILE = 0.99  # "prior quantiles": the central 98% of N(0, 1), as the embedding's 1st-99th percentile
RANGE_KINDS = ("prior", "embedding", "class")


def kl_per_dim(latents: pd.DataFrame, latent_dim: int) -> np.ndarray:
    """Mean over samples of KL(q(z_i|x) || N(0, 1)) = 0.5 (mu^2 + exp(logvar) - 1 - logvar), one value a dimension."""
    kl = np.zeros(latent_dim)
    for i in range(latent_dim):
        mu = latents[f"mu_{i}"].to_numpy(np.float64)
        logvar = latents[f"logvar_{i}"].to_numpy(np.float64)
        kl[i] = 0.5 * np.mean(mu**2 + np.exp(logvar) - 1.0 - logvar) if len(mu) else 0.0
    return kl


def kl_from_history(history: list[dict[str, Any]], latent_dim: int) -> np.ndarray | None:
    """The last epoch's `val_kl_per_dim` when the history has one of the right length, else None."""
    for epoch in reversed(history):
        values = epoch.get("val_kl_per_dim")
        if values is not None and len(values) == latent_dim:
            return np.asarray(values, dtype=np.float64)
    return None


def order_by_kl(kl: np.ndarray) -> list[int]:
    """Dimension indices, highest KL first (active units first); ties keep index order."""
    return [int(i) for i in np.argsort(-np.asarray(kl), kind="stable")]


@dataclass(frozen=True)
class PCA:
    """Principal components of the posterior means, all of them; `n` arguments keep the first n."""

    mean: np.ndarray  # (d,)
    components: np.ndarray  # (d, d): row k is the k-th principal axis (unit length), by decreasing variance
    explained_variance: np.ndarray  # (d,) eigenvalues of the covariance, decreasing

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Each component's share of the total variance."""
        total = self.explained_variance.sum()
        return self.explained_variance / total if total > 0 else np.zeros_like(self.explained_variance)

    def transform(self, z: np.ndarray, n: int) -> np.ndarray:
        """Scores on the first n components: (..., d) -> (..., n)."""
        return (np.asarray(z, dtype=np.float64) - self.mean) @ self.components[:n].T

    def inverse_transform(self, scores: np.ndarray) -> np.ndarray:
        """The latent point whose scores on the first n = scores.shape[-1] components are `scores`, (..., d)."""
        scores = np.asarray(scores, dtype=np.float64)
        return self.mean + scores @ self.components[: scores.shape[-1]]


def fit_pca(mu: np.ndarray) -> PCA:
    """PCA of (N, d) means by eigendecomposition of their covariance; each axis' largest loading made positive."""
    mu = np.asarray(mu, dtype=np.float64)
    mean = mu.mean(axis=0)
    centred = mu - mean
    covariance = centred.T @ centred / max(len(mu) - 1, 1)  # (d, d), as np.cov
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    order = np.argsort(eigenvalues)[::-1]
    components = eigenvectors[:, order].T  # (d, d) rows = axes
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    components = components * np.where(signs == 0, 1.0, signs)[:, None]  # a fixed sign: stable across refits
    return PCA(mean, components, np.clip(eigenvalues[order], 0.0, None))


def box_mask(x: np.ndarray, y: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    """Samples inside a box (x0, y0, x1, y1), edges included."""
    x0, y0, x1, y1 = bounds
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def lasso_mask(x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Samples inside a closed polygon (even-odd rule); only points in its bounding box are tested."""
    xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    mask = np.zeros(len(x), dtype=bool)
    if len(xs) < 3:
        return mask
    candidates = np.flatnonzero(box_mask(x, y, (xs.min(), ys.min(), xs.max(), ys.max())))
    inside = _points_in_polygon(x[candidates].astype(np.float64), y[candidates].astype(np.float64), xs, ys)
    mask[candidates] = inside
    return mask


@numba.njit(cache=False)
def _points_in_polygon(px: np.ndarray, py: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    # Ray casting: count the polygon edges crossed by a ray going right from each point.
    inside = np.zeros(px.shape[0], dtype=np.bool_)
    n = xs.shape[0]
    for p in range(px.shape[0]):
        x, y, crossings = px[p], py[p], 0
        j = n - 1
        for i in range(n):
            if (ys[i] > y) != (ys[j] > y):
                x_cross = xs[i] + (y - ys[i]) * (xs[j] - xs[i]) / (ys[j] - ys[i])
                if x < x_cross:
                    crossings += 1
            j = i
        inside[p] = crossings % 2 == 1
    return inside


def nearest_sample(x: np.ndarray, y: np.ndarray, at: tuple[float, float], scale: tuple[float, float]) -> int:
    """Row of the sample closest to `at`, distances measured in units of `scale` (the axes' spans)."""
    sx, sy = (s if s > 0 else 1.0 for s in scale)
    distance = ((x - at[0]) / sx) ** 2 + ((y - at[1]) / sy) ** 2
    return int(np.argmin(distance))


def combine_selection(old: np.ndarray | None, new: np.ndarray, how: str) -> np.ndarray:
    """A new selection mask merged with the old one: `replace`, `add` (union) or `intersect`."""
    if how == "replace" or old is None:
        return new.copy()
    if how == "add":
        return old | new
    if how == "intersect":
        return old & new
    raise ValueError(f"selection mode must be replace, add or intersect, got {how!r}")


def class_mix(labels: np.ndarray, mask: np.ndarray) -> dict[int, int]:
    """How many selected samples each class has, classes in increasing order."""
    values, counts = np.unique(labels[mask], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts)}


def class_moments(coords: np.ndarray, labels: np.ndarray, label: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std a coordinate of one class's samples ((N, k) coords); all samples if label is None or absent."""
    rows = coords if label is None or not (labels == label).any() else coords[labels == label]
    return rows.mean(axis=0), rows.std(axis=0)


def prior_range(center: float) -> tuple[float, float]:
    """The prior's central interval of a unit-variance coordinate centred at `center`."""
    half = NormalDist().inv_cdf(0.5 + PRIOR_QUANTILE / 2)  # 2.576 for the central 99%
    return center - half, center + half


def coordinate_ranges(
    coords: np.ndarray,
    kind: str,
    prior_centers: np.ndarray,
    labels: np.ndarray | None = None,
    label: int | None = None,
    k_std: float = 1.0,
) -> np.ndarray:
    """(k, 2) slider ranges: `prior` quantiles, `embedding` 1st-99th percentiles, or `class` mean +- k_std std."""
    if kind == "prior":
        return np.array([prior_range(float(c)) for c in prior_centers])
    if kind == "embedding":
        return np.percentile(coords, [1.0, 99.0], axis=0).T
    if kind == "class":
        labels = np.full(len(coords), -1) if labels is None else labels
        mean, std = class_moments(coords, labels, label)
        return np.stack([mean - k_std * std, mean + k_std * std], axis=1)
    raise ValueError(f"range kind must be one of {', '.join(RANGE_KINDS)}, got {kind!r}")
