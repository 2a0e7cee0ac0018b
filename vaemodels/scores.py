"""Disentanglement scores beyond MIG and DCI on (codes, factors): SAP, modularity and explicitness.

Shapes: codes (N, d) float posterior means; factors (N, k) integer class indices.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score, roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from vaemodels.metrics import _as_codes, _as_factors, _histogram_discretize


def _train_test(codes, factors, test_codes, test_factors, train_fraction: float, seed: int):
    # The reference draws a separate test sample; given none, a seeded split of the rows stands in for it.
    codes = _as_codes(codes)
    factors = _as_factors(factors, codes.shape[0])
    if test_codes is not None:
        test_codes = _as_codes(test_codes)
        return codes, factors, test_codes, _as_factors(test_factors, test_codes.shape[0])
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    order = np.random.default_rng(seed).permutation(codes.shape[0])
    train, test = order[: round(train_fraction * order.size)], order[round(train_fraction * order.size) :]
    return codes[train], factors[train], codes[test], factors[test]


def sap(codes, factors, test_codes=None, test_factors=None, train_fraction: float = 2 / 3, seed: int = 0) -> float:
    """Separated Attribute Predictability (Kumar et al. 2018, Section 3), for discrete factors.

    S[i, j] is the test accuracy of a linear SVM predicting factor j from code i alone; per factor the gap between
    the two best codes, averaged over factors. train_fraction 2/3 mirrors the reference's 10,000 / 5,000 samples.
    """
    codes, factors, test_codes, test_factors = _train_test(
        codes, factors, test_codes, test_factors, train_fraction, seed
    )
    if codes.shape[1] < 2:
        raise ValueError("SAP needs at least two code dimensions (a gap between the best two)")
    score = np.zeros((codes.shape[1], factors.shape[1]))  # (d, k)
    for i in range(codes.shape[1]):
        for j in range(factors.shape[1]):
            if np.unique(factors[:, j]).size < 2:
                continue  # one class only: nothing to separate; every code scores 0 and the gap is 0
            # C=0.01 and balanced class weights: the reference's settings (disentanglement_lib sap_score).
            svm = LinearSVC(C=0.01, class_weight="balanced").fit(codes[:, i : i + 1], factors[:, j])
            score[i, j] = np.mean(svm.predict(test_codes[:, i : i + 1]) == test_factors[:, j])
    top_two = np.sort(score, axis=0)[-2:]  # (2, k)
    return float(np.mean(top_two[1] - top_two[0]))


def mutual_information_matrix(codes, factors, n_bins: int = 20) -> np.ndarray:
    """I(code_i; factor_j) in nats, (d, k), codes binned in n_bins equal-width bins as for MIG."""
    codes = _as_codes(codes)
    factors = _as_factors(factors, codes.shape[0])
    binned = _histogram_discretize(codes, n_bins)  # (N, d)
    return np.array(
        [
            [mutual_info_score(binned[:, i], factors[:, j]) for j in range(factors.shape[1])]
            for i in range(codes.shape[1])
        ]
    )


def modularity(codes, factors, n_bins: int = 20) -> float:
    """Modularity (Ridgeway & Mozer 2018, Section 3): 1 - delta_i per code, averaged over codes.

    delta_i = sum_j (m_ij - t_ij)^2 / (theta_i^2 (k - 1)), m_ij the MI of code i and factor j, theta_i = max_j m_ij
    and t_i the template with theta_i at the argmax and 0 elsewhere. A code with no MI at all scores 0.
    """
    mi = mutual_information_matrix(codes, factors, n_bins)  # (d, k)
    if mi.shape[1] < 2:
        raise ValueError("modularity needs at least two factors")
    squared = mi**2
    theta = squared.max(axis=1)  # (d,) theta_i^2
    deviation = squared.sum(axis=1) - theta  # sum over the non-argmax factors of m_ij^2
    with np.errstate(divide="ignore", invalid="ignore"):
        per_code = np.where(theta > 0, 1.0 - deviation / (theta * (mi.shape[1] - 1)), 0.0)
    return float(np.mean(per_code))


def explicitness(
    codes, factors, test_codes=None, test_factors=None, train_fraction: float = 2 / 3, seed: int = 0
) -> float:
    """Explicitness (Ridgeway & Mozer 2018, Section 3): mean one-vs-rest ROC AUC of a logistic regression.

    Per factor, a logistic regression from all (standardised) codes to the factor's values; the AUC of each value's
    predicted probability against the rest, averaged over values, then over factors. Held-out rows are scored.
    """
    codes, factors, test_codes, test_factors = _train_test(
        codes, factors, test_codes, test_factors, train_fraction, seed
    )
    scaler = StandardScaler().fit(codes)
    codes, test_codes = scaler.transform(codes), scaler.transform(test_codes)
    per_factor = []
    for j in range(factors.shape[1]):
        model = LogisticRegression(max_iter=1000).fit(codes, factors[:, j])
        proba = model.predict_proba(test_codes)  # (N_test, classes seen in training)
        aucs = [
            roc_auc_score(test_factors[:, j] == value, proba[:, c])
            for c, value in enumerate(model.classes_)
            if 0 < np.mean(test_factors[:, j] == value) < 1  # AUC needs both a positive and a negative
        ]
        if aucs:
            per_factor.append(np.mean(aucs))
    return float(np.mean(per_factor)) if per_factor else float("nan")
