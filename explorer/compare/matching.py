"""Two trials' latent spaces side by side: which dimensions correspond, how well neighbourhoods survive, and whether
their sample ids name the same images at all.

- Dimensions are paired by the absolute Pearson correlation of their posterior means over the shared samples, with
  the assignment that maximises the summed |correlation| (the Hungarian method, Kuhn 1955, through
  `scipy.optimize.linear_sum_assignment`); a pair's sign is the sign of its correlation.
- The orthogonal Procrustes alignment (Schönemann 1966) is the rotation R minimising ||A R - B||_F over orthogonal R,
  from `scipy.linalg.orthogonal_procrustes` on centred codes.
- Neighbourhood preservation: for each sample, the share of its k nearest neighbours (itself left out) in one space
  that are also among its k nearest in the other, averaged over samples (the k-NN overlap used to compare embedding
  spaces, e.g. Boggust et al. 2022, "Embedding Comparator"). Random codes score about k / (N - 1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.optimize import linear_sum_assignment
from sklearn.neighbors import NearestNeighbors

# Config keys that decide which images the sample ids denote: the dataset, how it is made, and the seed that makes
# it, subsets it, splits it and picks the embedded samples (the `data_seed` key).
DATA_KEYS = ("dataset", "image_size", "n_samples", "data_dir", "embed_samples")


@dataclass(frozen=True)
class DimMatch:
    """How the dimensions of A map onto B: `b_of_a[i]` is the B dimension paired with A's i-th one."""

    b_of_a: np.ndarray  # (d_pairs,) int
    a_dims: np.ndarray  # (d_pairs,) int: the A dimensions that have a partner
    correlation: np.ndarray  # (d_pairs,) signed correlation of each pair
    matrix: np.ndarray  # (d_a, d_b) signed correlations of every pair

    @property
    def signs(self) -> np.ndarray:
        """+1 or -1 a pair: flip B's dimension by this to line it up with A's."""
        return np.where(self.correlation < 0, -1.0, 1.0)


def correlation_matrix(mu_a: np.ndarray, mu_b: np.ndarray) -> np.ndarray:
    """Pearson correlation of every A dimension with every B dimension, (d_a, d_b); a constant dimension gives 0."""
    a, b = _two_codes(mu_a, mu_b)
    a = a - a.mean(axis=0)  # (N, d_a)
    b = b - b.mean(axis=0)  # (N, d_b)
    norms = np.outer(np.linalg.norm(a, axis=0), np.linalg.norm(b, axis=0))  # (d_a, d_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (a.T @ b) / norms
    return np.nan_to_num(np.clip(corr, -1.0, 1.0), nan=0.0)


def match_dimensions(mu_a: np.ndarray, mu_b: np.ndarray) -> DimMatch:
    """Pair A's and B's dimensions one to one, maximising the summed |correlation| of their means (Hungarian)."""
    matrix = correlation_matrix(mu_a, mu_b)
    rows, cols = linear_sum_assignment(-np.abs(matrix))
    return DimMatch(b_of_a=cols, a_dims=rows, correlation=matrix[rows, cols], matrix=matrix)


def aligned_to(mu_a: np.ndarray, mu_b: np.ndarray, match: DimMatch | None = None) -> np.ndarray:
    """B's codes re-ordered and sign-flipped so that column i is the partner of A's dimension `match.a_dims[i]`."""
    match = match or match_dimensions(mu_a, mu_b)
    _, b = _two_codes(mu_a, mu_b)
    return b[:, match.b_of_a] * match.signs  # (N, d_pairs)


def procrustes_align(mu_a: np.ndarray, mu_b: np.ndarray) -> tuple[np.ndarray, float]:
    """B rotated onto A by the orthogonal R minimising ||(B - mean B) R - (A - mean A)||, plus A's mean; and the
    residual as a share of A's spread (0: B is a rotation of A). Needs the same number of dimensions."""
    a, b = _two_codes(mu_a, mu_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"Procrustes needs equal latent sizes; got {a.shape[1]} and {b.shape[1]} dimensions")
    a_mean, b_mean = a.mean(axis=0), b.mean(axis=0)
    rotation, _ = orthogonal_procrustes(b - b_mean, a - a_mean)  # (d, d)
    rotated = (b - b_mean) @ rotation + a_mean  # (N, d)
    spread = float(np.linalg.norm(a - a_mean)) or 1.0
    return rotated, float(np.linalg.norm(rotated - a)) / spread


def neighbour_sets(codes: np.ndarray, k: int) -> np.ndarray:
    """Each sample's k nearest other samples (Euclidean), (N, k) indices."""
    codes = np.asarray(codes, dtype=np.float64)
    if not 1 <= k < len(codes):
        raise ValueError(f"k must be between 1 and the number of samples - 1 ({len(codes) - 1}); got {k}")
    search = NearestNeighbors(n_neighbors=k + 1).fit(codes)
    _, index = search.kneighbors(codes)  # (N, k + 1)
    return _drop_self(index, k)


def neighbourhood_preservation(mu_a: np.ndarray, mu_b: np.ndarray, k: int = 10) -> float:
    """Mean share of each sample's k nearest neighbours in A that are also among its k nearest in B (1: the same)."""
    a, b = _two_codes(mu_a, mu_b)
    near_a, near_b = neighbour_sets(a, k), neighbour_sets(b, k)
    both = (near_a[:, :, None] == near_b[:, None, :]).any(axis=2).sum(axis=1)  # (N,)
    return float(both.mean() / k)


@dataclass(frozen=True)
class SampleSharing:
    """Whether two trials' sample ids denote the same images, and if not, which settings differ."""

    shared: bool
    differences: tuple[str, ...]  # "key: a vs b" a differing setting

    def describe(self) -> str:
        """One sentence for the page."""
        if self.shared:
            return "Both trials encode the same samples: selections and picked samples carry over."
        return "The trials encode different samples (" + "; ".join(self.differences) + "): compare statistics only."


def sample_sharing(config_a: Mapping[str, Any], config_b: Mapping[str, Any]) -> SampleSharing:
    """Same dataset, data settings and data_seed (a config without data_seed reads as data_seed = seed)."""
    differences = []
    for key in (*DATA_KEYS, "data_seed"):
        value_a, value_b = _data_setting(config_a, key), _data_setting(config_b, key)
        if value_a != value_b:
            differences.append(f"{key}: {value_a!r} vs {value_b!r}")
    return SampleSharing(shared=not differences, differences=tuple(differences))


def shared_rows(samples_a: np.ndarray, samples_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row positions in A and in B of the sample ids both hold, in A's order."""
    samples_a, samples_b = np.asarray(samples_a), np.asarray(samples_b)
    _, rows_a, rows_b = np.intersect1d(samples_a, samples_b, assume_unique=False, return_indices=True)
    order = np.argsort(rows_a)
    return rows_a[order], rows_b[order]


def _data_setting(config: Mapping[str, Any], key: str) -> Any:
    if key == "data_seed":
        value = config.get("data_seed")
        return config.get("seed", 0) if value is None else value
    return config.get(key)


def _two_codes(mu_a: np.ndarray, mu_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(mu_a, dtype=np.float64), np.asarray(mu_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or len(a) != len(b):
        raise ValueError(f"codes must be (samples, dims) over the same samples; got {a.shape} and {b.shape}")
    return a, b


def _drop_self(index: np.ndarray, k: int) -> np.ndarray:
    """Remove each row's own index from its k + 1 neighbours (wherever ties put it); keep k."""
    own = np.arange(len(index))[:, None]
    is_self = index == own  # (N, k + 1)
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True  # a duplicate point hid itself: drop the farthest instead
    return index[~is_self].reshape(len(index), k)
