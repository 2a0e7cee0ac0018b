"""Disentanglement scores beyond MIG and DCI: SAP, modularity/explicitness, BetaVAE, FactorVAE (UDR: udr_scores).

Shapes: codes (N, d) float posterior means; factors (N, k) integer class indices. The BetaVAE and FactorVAE
scores draw fresh samples from a `FactorOracle`; UDR compares several models' codes of the same samples.
Sample counts default to disentanglement_lib's (Locatello et al. 2019); `SCORE_SETTINGS` holds them by name, and
`SCORE_PROTOCOLS` the logistic regression of each setting (CLASSIFIERS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score, roc_auc_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from vaemodels.metric_names import CLASSIFIERS, FACTOR_VAE_STD, SCORE_SETTINGS
from vaemodels.metrics import _as_codes, _as_factors, _histogram_discretize
from vaemodels.udr_scores import informative_by_kl, udr, udr_pair  # noqa: F401 (also offered from here)

REFERENCE = SCORE_SETTINGS["reference"]


class FactorOracle(Protocol):
    """Ground truth that can be sampled: factor values and the observations they render."""

    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray: ...  # (n, k) ints

    def observations(self, factors: np.ndarray) -> np.ndarray: ...  # (n, ...) what the encoder reads


Encoder = Callable[[np.ndarray], np.ndarray]  # observations (n, ...) -> codes (n, d)


def logistic_regression(kind: str = "lbfgs", seed: int = 0) -> Any:
    """An unfitted logistic regression of one of CLASSIFIERS.

    "liblinear-ovr" is what disentanglement_lib's `LogisticRegression()` was under scikit-learn 0.21, whose defaults
    were solver liblinear and multi_class ovr (C=1, max_iter 100): one binary liblinear model a class, the class
    probabilities their sigmoids divided by their sum. Today's scikit-learn refuses liblinear for a multinomial
    model, so OneVsRestClassifier makes the classes one by one, as 0.21 did (same binary fits, same normalisation;
    with two classes both fit a single model). "lbfgs": multinomial, max_iter 1000 (the quick setting's).
    """
    if kind == "liblinear-ovr":
        return OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=seed))
    if kind == "lbfgs":
        return LogisticRegression(max_iter=1000, random_state=seed)
    raise ValueError(f"classifier {kind!r}: choose one of {', '.join(CLASSIFIERS)}")


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
    codes,
    factors,
    test_codes=None,
    test_factors=None,
    train_fraction: float = 2 / 3,
    seed: int = 0,
    classifier: str = "lbfgs",
) -> float:
    """Explicitness (Ridgeway & Mozer 2018, Section 3): mean one-vs-rest ROC AUC of a logistic regression.

    Per factor, a logistic regression (`classifier`, see logistic_regression) from all codes, standardised with the
    training rows' mean and std, to the factor's values; the AUC of each value's predicted probability against the
    rest, averaged over values (a macro average), then over factors; held-out rows are scored. So does
    disentanglement_lib (modularity_explicitness: normalize_data, then roc_auc_score of the binarised labels against
    predict_proba). It divides by a zero std, where a constant code here keeps scale 1 and stays constant.
    """
    codes, factors, test_codes, test_factors = _train_test(
        codes, factors, test_codes, test_factors, train_fraction, seed
    )
    scaler = StandardScaler().fit(codes)
    codes, test_codes = scaler.transform(codes), scaler.transform(test_codes)
    per_factor = []
    for j in range(factors.shape[1]):
        model = logistic_regression(classifier, seed).fit(codes, factors[:, j])
        proba = model.predict_proba(test_codes)  # (N_test, classes seen in training)
        aucs = [
            roc_auc_score(test_factors[:, j] == value, proba[:, c])
            for c, value in enumerate(model.classes_)
            if 0 < np.mean(test_factors[:, j] == value) < 1  # AUC needs both a positive and a negative
        ]
        if aucs:
            per_factor.append(np.mean(aucs))
    return float(np.mean(per_factor)) if per_factor else float("nan")


def codes_of(oracle: FactorOracle, encode: Encoder, factors: np.ndarray, chunk: int = 4_096) -> np.ndarray:
    """(n, k) factors -> (n, d) float64 codes of their observations, rendered and encoded a chunk at a time."""
    # A chunk at a time: the reference's 640,000 BetaVAE pairs as 64 x 64 images would be 10 GB at once.
    parts = [encode(oracle.observations(factors[start : start + chunk])) for start in range(0, len(factors), chunk)]
    return _as_codes(np.concatenate(parts))


def _sample_batches(oracle: FactorOracle, n_points: int, batch_size: int, rng: np.random.Generator):
    # -> (n_points,) fixed factor per point and (n_points, batch_size, k) factors, one fresh batch per point.
    fixed = rng.integers(0, len(oracle.factor_sizes), n_points)
    batches = oracle.sample_factors(n_points * batch_size, rng).reshape(n_points, batch_size, -1)
    return fixed, batches


def _beta_vae_features(oracle, encode, n_points: int, batch_size: int, rng) -> tuple[np.ndarray, np.ndarray]:
    # Higgins et al. 2017, Section 3 (and Appendix A.4): z_diff = mean over L pairs of |z_1 - z_2|, the pairs
    # sharing the value of one factor y; -> features (n_points, d) and labels y (n_points,).
    fixed, first = _sample_batches(oracle, n_points, batch_size, rng)
    _, second = _sample_batches(oracle, n_points, batch_size, rng)
    rows = np.arange(n_points)
    second[rows, :, fixed] = first[rows, :, fixed]  # the pair agrees on factor y
    k = first.shape[-1]
    codes_first = codes_of(oracle, encode, first.reshape(-1, k)).reshape(n_points, batch_size, -1)
    codes_second = codes_of(oracle, encode, second.reshape(-1, k)).reshape(n_points, batch_size, -1)
    return np.abs(codes_first - codes_second).mean(axis=1), fixed


def beta_vae_score(
    oracle: FactorOracle,
    encode: Encoder,
    batch_size: int = REFERENCE["batch_size"],
    num_train: int = REFERENCE["num_train"],
    num_eval: int = REFERENCE["num_eval"],
    seed: int = 0,
    classifier: str = "lbfgs",
) -> float:
    """BetaVAE score (Higgins et al. 2017, Section 3): held-out accuracy of a linear classifier of the fixed factor.

    Each point is a batch of batch_size pairs agreeing on one random factor; its feature the mean |z_1 - z_2|,
    unstandardised (as disentanglement_lib); `classifier` one of CLASSIFIERS (see logistic_regression).
    """
    rng = np.random.default_rng(seed)
    train_x, train_y = _beta_vae_features(oracle, encode, num_train, batch_size, rng)
    eval_x, eval_y = _beta_vae_features(oracle, encode, num_eval, batch_size, rng)
    if np.unique(train_y).size < 2:
        return float(np.mean(eval_y == train_y[0]))  # one label seen: the classifier can only predict it
    model = logistic_regression(classifier, seed).fit(train_x, train_y)
    return float(model.score(eval_x, eval_y))


def factor_vae_votes(
    oracle: FactorOracle, encode: Encoder, n_points: int, batch_size: int, scale: np.ndarray, rng
) -> np.ndarray:
    """(k, d) vote counts: per batch with one factor fixed, the dim of least variance / scale**2 votes for it.

    Dims whose scale (global std) is 0 or nan take no part. Kim & Mnih 2018, Section 4.
    """
    fixed, batches = _sample_batches(oracle, n_points, batch_size, rng)
    batches[np.arange(n_points), :, fixed] = batches[np.arange(n_points), :1, fixed]  # all rows share factor y
    codes = codes_of(oracle, encode, batches.reshape(n_points * batch_size, -1)).reshape(n_points, batch_size, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = codes.var(axis=1, ddof=1) / scale**2  # (n_points, d)
    normalised[:, ~(scale > 0)] = np.inf  # an excluded dim never has the least variance
    votes = np.zeros((len(oracle.factor_sizes), codes.shape[-1]), dtype=np.int64)
    np.add.at(votes, (fixed, normalised.argmin(axis=1)), 1)
    return votes


def factor_vae_score(
    oracle: FactorOracle,
    encode: Encoder,
    batch_size: int = REFERENCE["batch_size"],
    num_train: int = REFERENCE["num_train"],
    num_eval: int = REFERENCE["num_eval"],
    num_variance_estimate: int = REFERENCE["num_variance_estimate"],
    seed: int = 0,
) -> float:
    """FactorVAE score (Kim & Mnih 2018, Section 4): accuracy of the majority-vote classifier on held-out votes.

    Codes are divided by their std over num_variance_estimate samples; dims with std below FACTOR_VAE_STD are
    left out. Each code dim predicts the factor it voted for most often in training.
    """
    rng = np.random.default_rng(seed)
    scale = codes_of(oracle, encode, oracle.sample_factors(num_variance_estimate, rng)).std(axis=0, ddof=1)  # (d,)
    scale = np.where(scale >= FACTOR_VAE_STD, scale, 0.0)  # 0 marks a collapsed dim, left out of the vote
    if not (scale > 0).any():
        return 0.0  # no active dim: nothing can vote (the reference scores 0 too)
    train = factor_vae_votes(oracle, encode, num_train, batch_size, scale, rng)
    evaluation = factor_vae_votes(oracle, encode, num_eval, batch_size, scale, rng)
    classifier = train.argmax(axis=0)  # (d,) the factor each dim predicts
    return float(evaluation[classifier, np.arange(train.shape[1])].sum() / evaluation.sum())
