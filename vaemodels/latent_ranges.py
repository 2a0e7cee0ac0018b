"""Numbers a latent traversal needs from a trial's latents: KL per dimension and its order, class statistics, and
the range each coordinate is swept across. The explorer's sliders and `latentsweep traverse` both read these."""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas imports pyarrow: RANGE_KINDS stays light for the command line's flags
    import pandas as pd

PRIOR_QUANTILE = 0.99  # "prior quantiles": the central 98% of N(0, 1), as the embedding's 1st-99th percentile
RANGE_KINDS = ("prior", "embedding", "class")


def latents_kl_per_dim(latents: pd.DataFrame, latent_dim: int) -> np.ndarray:
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


def dimension_kl(latents: pd.DataFrame, history: list[dict[str, Any]], latent_dim: int) -> np.ndarray:
    """KL a dimension from the latents' log-variances, else the history's val_kl_per_dim, else the means' variance."""
    from vaemodels.embeddings import mu_columns

    if all(f"logvar_{i}" in latents.columns for i in range(latent_dim)):
        return latents_kl_per_dim(latents, latent_dim)
    from_history = kl_from_history(history, latent_dim)
    if from_history is not None:
        return from_history
    return latents[mu_columns(latent_dim)].to_numpy(np.float64).var(axis=0)


def sweep_ranges(
    coords: np.ndarray,
    kind: str,
    prior_centers: np.ndarray,
    point: np.ndarray,
    labels: np.ndarray | None = None,
    label: int | None = None,
    k_std: float = 1.0,
) -> np.ndarray:
    """(k, 2) `coordinate_ranges` widened to contain the point's coordinates (k,); a collapsed one gets room."""
    ranges = coordinate_ranges(coords, kind, prior_centers, labels, label, k_std)
    ranges[:, 0] = np.minimum(ranges[:, 0], point)
    ranges[:, 1] = np.maximum(ranges[:, 1], point)
    flat = ranges[:, 1] - ranges[:, 0] < 1e-6  # a collapsed dimension: give the slider some room
    ranges[flat] += np.array([-1.0, 1.0])
    return ranges
