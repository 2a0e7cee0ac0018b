"""The reference setting's choices as disentanglement_lib makes them: UDR by Lasso, scikit-learn 0.21's logistic
regression."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from vaemodels.metric_names import SCORE_PROTOCOLS
from vaemodels.scores import explicitness, logistic_regression
from vaemodels.udr_scores import relative_strength, udr

# ---- UDR by Lasso: a known answer that Spearman does not give

# Two sources on a full 20 x 20 grid, standardised: their sample correlation is exactly 0 and each has variance 1,
# so Lasso(alpha) of a standardised target y on them has the closed form coef_k = sign(c_k) max(|c_k| - alpha, 0),
# c_k = mean(s_k y) (its objective separates by coordinate: 1/(2n) |y - S w|^2 + alpha |w|_1, S'S / n = I).
_GRID = np.stack([np.repeat(np.arange(20.0), 20), np.tile(np.arange(20.0), 20)], axis=1)
SOURCES = (_GRID - _GRID.mean(axis=0)) / _GRID.std(axis=0)  # (400, 2)


def test_udr_lasso_known_answer_that_spearman_does_not_give() -> None:
    s0, s1 = SOURCES[:, 0], SOURCES[:, 1]
    first = SOURCES
    second = np.stack([s0, 0.8 * s0 + 0.6 * s1], axis=1)  # both dims of unit variance, mean 0: standardised already
    # Model 2's codes regressed on model 1's: target s0 has c = (1, 0), coef (0.9, 0); target 0.8 s0 + 0.6 s1 has
    # c = (0.8, 0.6), coef (0.7, 0.5). R (model 1 dims x model 2 dims) = [[0.9, 0.7], [0, 0.5]].
    # disentanglement_lib's relative strength: columns 0.9^2 / 0.9 = 0.9 and 0.7^2 / 1.2; rows 0.9^2 / 1.6 and
    # 0.5^2 / 0.5 = 0.5; UDR = ((0.9 + 0.49 / 1.2) / 2 + (0.81 / 1.6 + 0.5) / 2) / 2.
    expected = ((0.9 + 0.49 / 1.2) / 2 + (0.81 / 1.6 + 0.5) / 2) / 2  # 0.5786...
    mask = [np.ones(2, bool)] * 2
    scores, pairs = udr([first, second], informative=mask, correlation="lasso")
    assert scores[1] == pytest.approx(expected, abs=1e-6) and pairs.tolist() == [1, 1]
    # |Spearman rho| of the same codes: R = [[1, rho(s0, y)], [0, rho(s1, y)]], not Lasso's shrunk coefficients.
    spearman, _ = udr([first, second], informative=mask, correlation="spearman")
    assert abs(spearman[1] - expected) > 0.05
    # The same sources permuted, rescaled and sign-flipped: Spearman sees a permutation matrix (UDR 1); Lasso on
    # the standardised codes shrinks each coefficient by alpha: R = 0.9 x a permutation, each ratio 0.9^2 / 0.9.
    moved = np.stack([-3.0 * s1, 0.5 * s0], axis=1)
    assert udr([first, moved], informative=mask, correlation="lasso")[0] == pytest.approx([0.9, 0.9], abs=1e-6)
    assert udr([first, moved], informative=mask, correlation="spearman")[0] == pytest.approx([1.0, 1.0], abs=1e-12)
    # Unequal sides (model 2 keeps one informative dim): R = [[0.9], [0]]. The library averages each side, (0.9 +
    # (0.9 + 0) / 2) / 2 = 0.675, where eq. 2 sums over a + b = 3 dims: (0.9 + 0.9 + 0) / 3 = 0.6.
    assert relative_strength(np.array([[0.9], [0.0]])) == pytest.approx(0.675, abs=1e-12)
    with pytest.raises(ValueError, match="UDR correlation 'pearson'"):
        udr([first, second], correlation="pearson")


# ---- the logistic regression of scikit-learn 0.21's defaults


def three_classes() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # One code, three ordered classes that overlap: the middle one is not linearly separable from the other two.
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 100)
    codes = (labels * 1.5 + rng.normal(size=300))[:, None]  # (300, 1)
    test_labels = np.repeat([0, 1, 2], 60)
    test_codes = (test_labels * 1.5 + rng.normal(size=180))[:, None]
    return codes, labels, test_codes, test_labels


def test_the_reference_explicitness_uses_one_vs_rest_liblinear_as_scikit_learn_0_21_did() -> None:
    codes, labels, test_codes, test_labels = three_classes()
    mean, std = codes.mean(), codes.std()
    train, test = (codes - mean) / std, (test_codes - mean) / std  # standardised with the training rows' moments
    # 0.21's LogisticRegression(): a binary liblinear model (C=1, intercept regularised) for each class against the
    # rest; a row's class probabilities are their sigmoids divided by their sum.
    raw = np.column_stack(
        [LogisticRegression(solver="liblinear").fit(train, labels == c).predict_proba(test)[:, 1] for c in range(3)]
    )
    by_hand = raw / raw.sum(axis=1, keepdims=True)  # (180, 3)
    ovr = logistic_regression("liblinear-ovr").fit(train, labels).predict_proba(test)
    np.testing.assert_allclose(ovr, by_hand, atol=1e-12)
    multinomial = logistic_regression("lbfgs").fit(train, labels).predict_proba(test)
    assert np.abs(multinomial - by_hand).max() > 0.05  # a softmax over one shared fit gives other probabilities
    # Explicitness: each class's AUC against the rest from its probability, averaged (one factor here).
    expected = np.mean([roc_auc_score(test_labels == c, by_hand[:, c]) for c in range(3)])
    assert SCORE_PROTOCOLS["reference"]["classifier"] == "liblinear-ovr"
    reference = explicitness(codes, labels, test_codes, test_labels, classifier="liblinear-ovr")
    assert reference == pytest.approx(expected, abs=1e-12)
    quick = explicitness(codes, labels, test_codes, test_labels, classifier="lbfgs")
    assert quick != pytest.approx(reference, abs=1e-6)
    with pytest.raises(ValueError, match="classifier 'sag'"):
        logistic_regression("sag")
