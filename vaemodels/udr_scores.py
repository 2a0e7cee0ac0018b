"""UDR (Duan et al. 2020, "Unsupervised Model Selection for Variational Disentangled Representation Learning").

Models that share a configuration and differ in seed encode the same samples; a pair of models is scored by how
one-to-one its similarity matrix R (a dims x b dims) is, and each model gets the median of its pairs.
Two similarity matrices (UDR_CORRELATIONS in vaemodels/metric_names.py):
- "spearman": |Spearman rho| between every pair of dims, symmetric; a pair scores Duan et al.'s eq. 2.
- "lasso": disentanglement_lib's default (udr_sklearn, lasso_correlation_matrix): |coefficients| of a Lasso with
  alpha 0.1 regressing one model's standardised codes on the other's; a pair is directed and scores the library's
  relative strength, (mean over columns + mean over rows) / 2, which is eq. 2 when a == b.
Shapes: codes (N, d) float posterior means of N shared samples; informative masks (d,) bool.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

from vaemodels.metric_names import ACTIVE_VARIANCE, UDR_CORRELATIONS, UDR_KL_THRESHOLD
from vaemodels.metrics import _as_codes

LASSO_ALPHA = 0.1  # disentanglement_lib's lasso_correlation_matrix


def _spearman_matrix(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    # |Spearman rho| between every column of first (N, a) and of second (N, b) -> (a, b): Pearson on ranks.
    ranks = rankdata(np.hstack([first, second]), axis=0)  # ties share their average rank, as Spearman's rho
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.corrcoef(ranks, rowvar=False)[: first.shape[1], first.shape[1] :]
    return np.nan_to_num(np.abs(rho))  # a constant dim correlates with nothing: 0, not nan


def lasso_matrix(predictors: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """|Lasso coefficients| (a, b): entry (i, j) is how much predictor dim i enters the regression of target dim j.

    One Lasso(alpha=0.1) a target (scikit-learn fits a multi-output Lasso target by target), on codes the caller
    standardised, as disentanglement_lib's lasso_correlation_matrix. predictors (N, a), targets (N, b).
    """
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=LASSO_ALPHA).fit(predictors, targets)
    return np.abs(np.asarray(model.coef_).reshape(targets.shape[1], predictors.shape[1])).T  # coef_ is (b, a)


def relative_strength(matrix: np.ndarray) -> float:
    """disentanglement_lib's pair score of R (a, b): (mean_b r_b^2 / sum_a R + mean_a r_a^2 / sum_b R) / 2, with
    r_b the column maxima and r_a the row maxima; an all-zero row or column adds 0. nan when a or b is 0."""
    if 0 in matrix.shape:
        return float("nan")  # no informative dim on one side (the library would fail on the empty maximum)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_column = np.nan_to_num(matrix.max(axis=0) ** 2 / matrix.sum(axis=0))  # (b,)
        per_row = np.nan_to_num(matrix.max(axis=1) ** 2 / matrix.sum(axis=1))  # (a,)
    return float((per_column.mean() + per_row.mean()) / 2)


def udr_pair(first: np.ndarray, second: np.ndarray) -> float:
    """UDR_S of two models' codes (N, a) and (N, b) of the same samples, informative dims only (Duan et al. 2020).

    Section 3, eq. 2: with R = |Spearman rho| (a, b), r_a = max_b R(a, b) and r_b = max_a R(a, b),
    UDR = (sum_b r_b^2 / sum_a R(a, b) + sum_a r_a^2 / sum_b R(a, b)) / (a + b); a row or column of zeros adds 0.
    """
    if first.shape[1] == 0 or second.shape[1] == 0:
        return float("nan")  # no informative dim on one side: the pair says nothing
    matrix = _spearman_matrix(first, second)  # (a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_column = np.nan_to_num(matrix.max(axis=0) ** 2 / matrix.sum(axis=0))  # (b,)
        per_row = np.nan_to_num(matrix.max(axis=1) ** 2 / matrix.sum(axis=1))  # (a,)
    return float((per_column.sum() + per_row.sum()) / (matrix.shape[0] + matrix.shape[1]))


def informative_by_kl(mu: np.ndarray, logvar: np.ndarray, threshold: float = UDR_KL_THRESHOLD) -> np.ndarray:
    """(d,) True where a dimension's mean KL(q(z|x) || N(0, 1)) over the samples exceeds threshold (Duan et al. 2020,
    Section 3: a latent is informative when its KL > 0.01). KL = (mu^2 + exp(logvar) - logvar - 1) / 2."""
    mu, logvar = _as_codes(mu), _as_codes(logvar)
    return (0.5 * (mu**2 + np.exp(logvar) - logvar - 1.0)).mean(axis=0) > threshold


def _standardised(codes: np.ndarray) -> np.ndarray:
    # (N, d) -> zero mean, unit variance per dim (ddof 0, scikit-learn's StandardScaler); a constant dim stays 0.
    std = codes.std(axis=0)
    return (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _pairwise(kept: list[np.ndarray], correlation: str) -> np.ndarray:
    # (m, m) pair scores, nan on the diagonal. Spearman: symmetric eq. 2. Lasso: entry (j, i) scores model i's
    # codes regressed on model j's, as the library's disentanglement[j, i].
    m = len(kept)
    pairwise = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(m):
            if correlation == "spearman" and j > i:
                pairwise[i, j] = pairwise[j, i] = udr_pair(kept[i], kept[j])
            elif correlation == "lasso" and i != j and kept[i].shape[1] and kept[j].shape[1]:
                pairwise[j, i] = relative_strength(lasso_matrix(kept[j], kept[i]))
    return pairwise


def udr(
    codes_per_model: Sequence[np.ndarray],
    threshold: float = ACTIVE_VARIANCE,
    informative: Sequence[np.ndarray] | None = None,
    correlation: str = "spearman",
) -> tuple[np.ndarray, np.ndarray]:
    """UDR_S (Duan et al. 2020, Section 3): per model, the median of its pair scores with every other model.

    The models share a configuration and data and differ in seed, and all encode the same samples. `informative`
    gives each model's informative dims as a boolean mask (the paper's KL > 0.01, `informative_by_kl`); without it a
    dim is informative when its posterior mean varies more than threshold. With "lasso" the codes are standardised
    over all dims first and the uninformative dims then dropped (the library zeroes them, the same fit: a zero dim
    gets no coefficient and is filtered out of R). -> (scores (m,), pairs each rests on (m,)).
    """
    if correlation not in UDR_CORRELATIONS:
        raise ValueError(f"UDR correlation {correlation!r}: choose one of {', '.join(UDR_CORRELATIONS)}")
    models = [_as_codes(codes) for codes in codes_per_model]
    if len({codes.shape[0] for codes in models}) > 1:
        raise ValueError("every model must encode the same samples (equal row counts)")
    if informative is None:
        informative = [codes.var(axis=0) > threshold for codes in models]
    if len(informative) != len(models) or any(len(m) != c.shape[1] for m, c in zip(informative, models)):
        raise ValueError("informative needs one mask a model, as long as its code")
    if correlation == "lasso":
        models = [_standardised(codes) for codes in models]
    kept = [codes[:, np.asarray(mask, bool)] for codes, mask in zip(models, informative)]
    pairwise = _pairwise(kept, correlation)  # (m, m); column i holds the pairs of model i
    pairs = np.isfinite(pairwise).sum(axis=0)  # (m,) the diagonal is nan, so a model is never its own pair
    scores = np.array([np.median(col[np.isfinite(col)]) if n else np.nan for col, n in zip(pairwise.T, pairs)])
    return scores, pairs
