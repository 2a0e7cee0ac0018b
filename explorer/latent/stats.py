"""PCA of the means, the other coordinate space of the latent views (KL order and slider ranges: vaemodels)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import decomposition


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
