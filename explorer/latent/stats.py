"""Numbers behind the latent views: KL per dimension, PCA of the means, class statistics, slider ranges."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd
from sklearn import decomposition

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
    """Every principal component of the posterior means (scikit-learn's fit); `n` arguments keep the first n."""

    model: decomposition.PCA  # fitted, its axes flipped to the sign convention of `fit_pca`

    @property
    def mean(self) -> np.ndarray:
        """(d,) the means' mean."""
        return self.model.mean_

    @property
    def components(self) -> np.ndarray:
        """(d, d): row k is the k-th principal axis (unit length), by decreasing variance."""
        return self.model.components_

    @property
    def explained_variance(self) -> np.ndarray:
        """(d,) the variance along each axis (ddof 1), decreasing."""
        return self.model.explained_variance_

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Each component's share of the total variance (all 0 when the means do not vary)."""
        total = self.explained_variance.sum()
        return self.explained_variance / total if total > 0 else np.zeros_like(self.explained_variance)

    def transform(self, z: np.ndarray, n: int) -> np.ndarray:
        """Scores on the first n components: (..., d) -> (..., n)."""
        z = np.asarray(z, dtype=np.float64)
        return self.model.transform(z.reshape(-1, z.shape[-1]))[:, :n].reshape(*z.shape[:-1], n)

    def inverse_transform(self, scores: np.ndarray) -> np.ndarray:
        """The latent point whose scores on the first n = scores.shape[-1] components are `scores`, (..., d)."""
        scores = np.asarray(scores, dtype=np.float64)
        return self.mean + scores @ self.components[: scores.shape[-1]]


def fit_pca(mu: np.ndarray) -> PCA:
    """PCA of (N, d) means, every component kept; each axis' largest loading made positive.

    A fixed sign, whatever the solver or the scikit-learn version returns: refits of the same means (another session,
    a restart) draw the same picture and move the sliders the same way. Ties go to the first of the largest loadings.
    """
    mu = np.asarray(mu, dtype=np.float64)
    # covariance_eigh: one (d, d) eigendecomposition, fast for N >> d (a million means, at most a few dozen dims).
    model = decomposition.PCA(svd_solver="covariance_eigh").fit(mu)
    missing = mu.shape[1] - len(model.components_)  # fewer samples than dimensions: the views still want d axes
    components = np.pad(model.components_, [(0, missing), (0, 0)])  # zero axes: no variance, a flat coordinate
    model.explained_variance_ = np.pad(model.explained_variance_, (0, missing))
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    model.components_ = components * np.where(signs == 0, 1.0, signs)[:, None]
    return PCA(model)


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
