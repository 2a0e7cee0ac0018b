"""Latent-space metrics over posterior means: active units, linear probe, MIG, DCI, Gaussian total correlation.

Shapes used throughout: codes (N, d) float posterior means; factors (N, k) integer ground-truth factors;
labels (N,) integer class labels with -1 meaning "no label". Names match the contract's metric names.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mutual_info_score
from sklearn.preprocessing import StandardScaler

from vaemodels.metric_names import ACTIVE_VARIANCE, DCI_KEYS, DCI_REGRESSOR, DCI_REGRESSORS, DCI_SAMPLES, LATENT_KEYS


def _as_codes(codes: np.ndarray) -> np.ndarray:
    # (N,) or (N, d) -> (N, d) float64; float32 variances of near-collapsed dims lose digits otherwise.
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim == 1:
        codes = codes[:, None]
    if codes.ndim != 2:
        raise ValueError(f"codes must be (N, d), got shape {codes.shape}")
    return codes


def _as_factors(factors: np.ndarray, n: int) -> np.ndarray:
    # (N,) or (N, k) -> (N, k) int64, checked against the number of code rows.
    factors = np.asarray(factors)
    if factors.ndim == 1:
        factors = factors[:, None]
    if factors.ndim != 2 or factors.shape[0] != n:
        raise ValueError(f"factors must be ({n}, k), got shape {factors.shape}")
    return factors.astype(np.int64)


def active_mask(codes: np.ndarray, threshold: float = ACTIVE_VARIANCE) -> np.ndarray:
    """Dimensions whose posterior mean varies over the data: Var_x[E_q(z|x)[z_i]] > threshold (Burda et al. 2015)."""
    # (d,) bool; a collapsed dimension's mean is (nearly) the same for every input.
    return _as_codes(codes).var(axis=0) > threshold


def active_units(codes: np.ndarray, threshold: float = ACTIVE_VARIANCE) -> int:
    """Number of active units, dims with Var_x[E_q(z|x)[z_i]] > threshold (Burda et al. 2015)."""
    return int(active_mask(codes, threshold).sum())


def probe_accuracy(codes: np.ndarray, labels: np.ndarray, seed: int = 0) -> float:
    """Held-out accuracy of a linear (logistic regression) probe from codes to labels (e.g. Alain & Bengio 2016)."""
    codes = _as_codes(codes)
    labels = np.asarray(labels).reshape(-1)
    if labels.shape[0] != codes.shape[0]:
        raise ValueError(f"labels must have {codes.shape[0]} rows, got {labels.shape[0]}")
    keep = labels != -1  # -1 marks an unlabelled sample
    codes, labels = codes[keep], labels[keep]
    if np.unique(labels).size < 2:
        return float("nan")
    # Seeded half/half split: fit on the first half of a shuffle, score on the second.
    order = np.random.default_rng(seed).permutation(labels.shape[0])
    train, test = order[: order.size // 2], order[order.size // 2 :]
    if test.size == 0 or np.unique(labels[train]).size < 2:
        return float("nan")
    scaler = StandardScaler().fit(codes[train])  # zero-variance dims keep scale 1, so no division by 0
    probe = LogisticRegression(max_iter=500)
    probe.fit(scaler.transform(codes[train]), labels[train])
    return float(probe.score(scaler.transform(codes[test]), labels[test]))


def _histogram_discretize(codes: np.ndarray, n_bins: int) -> np.ndarray:
    # (N, d) float -> (N, d) int bin indices in 1..n_bins: equal-width bins over each dim's own range,
    # as disentanglement_lib (np.histogram edges without the last, then np.digitize).
    out = np.empty(codes.shape, dtype=np.int64)
    for i in range(codes.shape[1]):
        edges = np.histogram(codes[:, i], bins=n_bins)[1]
        out[:, i] = np.digitize(codes[:, i], edges[:-1])
    return out


def mig(codes: np.ndarray, factors: np.ndarray, n_bins: int = 20) -> float:
    """Mutual Information Gap (Chen et al. 2018), computed as disentanglement_lib does (Locatello et al. 2019)."""
    codes = _as_codes(codes)
    factors = _as_factors(factors, codes.shape[0])
    binned = _histogram_discretize(codes, n_bins)  # (N, d)
    gaps = []
    for j in range(factors.shape[1]):
        entropy = mutual_info_score(factors[:, j], factors[:, j])  # H(v_j) in nats
        if entropy <= 0:
            continue  # a factor with one value carries no information to capture; MIG is undefined for it
        mi = np.sort([mutual_info_score(factors[:, j], binned[:, i]) for i in range(codes.shape[1])])[::-1]
        second = mi[1] if mi.size > 1 else 0.0  # with one code dim the gap is its whole MI
        gaps.append((mi[0] - second) / entropy)
    return float(np.mean(gaps)) if gaps else float("nan")


def _one_minus_entropy(p: np.ndarray, base: int) -> np.ndarray:
    # p: (m, n) non-negative rows -> (m,) 1 - H_base(row / row.sum()). base == n, so the result is in [0, 1].
    # With base 1 there is only one outcome, nothing to be spread over: score 1 (the trivial case).
    if base == 1:
        return np.ones(p.shape[0])
    p = p + 1e-11  # an all-zero row becomes uniform (score 0) instead of 0/0, as disentanglement_lib does
    p = p / p.sum(axis=1, keepdims=True)
    return 1.0 + np.sum(p * np.log(p), axis=1) / np.log(base)


def _dci_classifier(regressor: str, seed: int):
    # Random forest: the cheap default (seconds on 10k x 10); gradient boosting: disentanglement_lib's reference.
    # max_features=None: every split sees every code, as in gradient boosting. The usual sqrt(d) forces splits on
    # uninformative codes, leaking ~1% importance per code, and entropy magnifies that: D = 0.84 for perfect codes.
    # max_samples=0.5 (half-size bootstrap per tree) and 30 trees of depth <= 8 pay for that.
    if regressor == "random_forest":
        return RandomForestClassifier(
            n_estimators=30, max_depth=8, max_features=None, max_samples=0.5, random_state=seed, n_jobs=1
        )
    if regressor == "gradient_boosting":
        return GradientBoostingClassifier(random_state=seed)
    raise ValueError(f"unknown DCI regressor {regressor!r}; choose one of {DCI_REGRESSORS}")


def _importance_matrix(
    codes: np.ndarray, factors: np.ndarray, test_codes: np.ndarray, test_factors: np.ndarray, regressor: str, seed: int
) -> tuple[np.ndarray, list[float]]:
    # -> R (d, k') with |feature_importances_| per usable factor, and the test accuracy of each classifier.
    columns, accuracies = [], []
    for j in range(factors.shape[1]):
        if np.unique(factors[:, j]).size < 2:
            continue  # a factor constant on the train part cannot be predicted from anything; skip it
        model = _dci_classifier(regressor, seed).fit(codes, factors[:, j])
        columns.append(np.abs(model.feature_importances_))
        accuracies.append(float(model.score(test_codes, test_factors[:, j])))
    matrix = np.stack(columns, axis=1) if columns else np.zeros((codes.shape[1], 0))
    return matrix, accuracies


def dci(
    codes: np.ndarray,
    factors: np.ndarray,
    regressor: str = "random_forest",
    seed: int = 0,
    train_fraction: float = 0.8,
) -> dict[str, float]:
    """Disentanglement, completeness, informativeness from a classifier importance matrix (Eastwood & Williams 2018),
    the rows split train_fraction / the rest by a seeded shuffle."""
    _dci_classifier(regressor, seed)  # fail on an unknown name before any work
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    codes = _as_codes(codes)
    factors = _as_factors(factors, codes.shape[0])
    order = np.random.default_rng(seed).permutation(codes.shape[0])
    n_train = round(train_fraction * codes.shape[0])
    train, test = order[:n_train], order[n_train:]
    return dci_train_test(codes[train], factors[train], codes[test], factors[test], regressor, seed)


def dci_train_test(
    codes: np.ndarray,
    factors: np.ndarray,
    test_codes: np.ndarray,
    test_factors: np.ndarray,
    regressor: str = "random_forest",
    seed: int = 0,
) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018, Section 2) with the classifiers trained on (codes, factors) and their accuracy
    (informativeness) measured on the test points, as disentanglement_lib's dci on its 10,000 + 5,000 points."""
    _dci_classifier(regressor, seed)
    codes, test_codes = _as_codes(codes), _as_codes(test_codes)
    factors, test_factors = _as_factors(factors, codes.shape[0]), _as_factors(test_factors, test_codes.shape[0])
    if codes.shape[0] == 0 or test_codes.shape[0] == 0:
        return dict.fromkeys(DCI_KEYS, float("nan"))
    r, accuracies = _importance_matrix(codes, factors, test_codes, test_factors, regressor, seed)  # r: (d, k)
    if r.shape[1] == 0:
        return dict.fromkeys(DCI_KEYS, float("nan"))
    d, k = r.shape
    total = r.sum()
    # rho_i: each code's share of all importance, so codes that matter to no factor do not count.
    rho = r.sum(axis=1) / total if total > 0 else np.full(d, 1.0 / d)
    disentanglement = float(np.sum(rho * _one_minus_entropy(r, base=k)))  # entropy of code i over factors
    completeness = float(np.mean(_one_minus_entropy(r.T, base=d)))  # entropy of factor j over codes
    return {
        "dci_disentanglement": disentanglement,
        "dci_completeness": completeness,
        "dci_informativeness": float(np.mean(accuracies)),
    }


def gaussian_tc(codes: np.ndarray) -> float:
    """Total correlation (Watanabe 1960) in nats of a Gaussian fit: 0.5 (sum log diag Sigma - log det Sigma)."""
    codes = _as_codes(codes)
    codes = codes[:, codes.var(axis=0) > 0]  # a constant dim has log 0 terms; it is independent of all others
    if codes.shape[1] < 2:
        return 0.0
    # Same quantity on the correlation matrix (diag 1): -0.5 log det Corr; better conditioned than Sigma.
    sign, logdet = np.linalg.slogdet(np.corrcoef(codes, rowvar=False))
    if sign <= 0:
        return float("inf")  # exactly collinear dims (e.g. duplicated): a Gaussian's TC is unbounded
    return float(max(-0.5 * logdet, 0.0))  # TC >= 0; clip round-off below zero


def latent_metrics(
    mu: np.ndarray, labels: np.ndarray | None = None, factors: np.ndarray | None = None, seed: int = 0
) -> dict[str, float]:
    """The cheap latent metrics (active units, linear probe, MIG, Gaussian TC); nan where not computable."""
    mu = _as_codes(mu)
    out = dict.fromkeys(LATENT_KEYS, float("nan"))
    if mu.shape[0] < 2 or not np.isfinite(mu).all():
        return out  # e.g. a diverged model's NaN means: record nan rather than fail the whole run
    out["active_units"] = float(active_units(mu))
    if labels is not None:
        out["probe_accuracy"] = probe_accuracy(mu, labels, seed=seed)
    if factors is not None:
        out["mig"] = mig(mu, factors)
    out["gaussian_tc"] = gaussian_tc(mu)
    return out


def dci_metrics(
    mu: np.ndarray,
    factors: np.ndarray,
    regressor: str = DCI_REGRESSOR,
    max_samples: int = DCI_SAMPLES,
    seed: int = 0,
) -> dict[str, float]:
    """DCI (Eastwood & Williams 2018) on at most max_samples rows drawn without replacement (seeded)."""
    mu = _as_codes(mu)
    factors = _as_factors(factors, mu.shape[0])
    if not np.isfinite(mu).all():
        _dci_classifier(regressor, seed)  # an unknown name is still an error
        return dict.fromkeys(DCI_KEYS, float("nan"))
    if max_samples and mu.shape[0] > max_samples:
        rows = np.random.default_rng(seed).choice(mu.shape[0], size=max_samples, replace=False)
        mu, factors = mu[rows], factors[rows]
    return dci(mu, factors, regressor=regressor, seed=seed)
