"""Known-answer tests for vaemodels.scores and DCI: each expected value follows from the score's definition."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from vaemodels.metric_names import SCORE_SETTINGS
from vaemodels.metrics import dci
from vaemodels.scores import (
    beta_vae_score,
    explicitness,
    factor_vae_score,
    factor_vae_votes,
    informative_by_kl,
    modularity,
    mutual_information_matrix,
    sap,
    udr,
    udr_pair,
)

N = 3_000
ROTATE = (math.cos(math.pi / 4), math.sin(math.pi / 4))
# The four value pairs of two binary factors, each as often: the hand-computed cases use them.
BINARY_PAIRS = np.tile([[0, 0], [0, 1], [1, 0], [1, 1]], (250, 1))  # (1000, 2)


def rotate_codes_1_2(codes: np.ndarray) -> np.ndarray:
    # Codes 1 and 2 become (c1 - c2)/sqrt 2 and (c1 + c2)/sqrt 2: two factors mixed at 45 degrees.
    c, s = ROTATE
    out = codes.astype(float).copy()
    out[:, 1], out[:, 2] = c * codes[:, 1] - s * codes[:, 2], s * codes[:, 1] + c * codes[:, 2]
    return out


def permute_and_rescale(codes: np.ndarray) -> np.ndarray:
    return codes[:, [2, 0, 1]] * np.array([3.0, -0.5, 10.0])


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    # (N, 3): factor 0 has 3 values, factors 1 and 2 have 4 each (equal, so the 45-degree mix is symmetric).
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, size, N) for size in (3, 4, 4)], axis=1)


@pytest.fixture(scope="module")
def binary() -> np.ndarray:
    # (N, 3) binary factors: a single-dim linear SVM (SAP) can only draw one threshold, so it sees all of a binary one.
    return np.random.default_rng(1).integers(0, 2, (N, 3))


def aligned(factors: np.ndarray) -> np.ndarray:
    return factors + 1e-3 * np.random.default_rng(2).normal(size=factors.shape)


def noise() -> np.ndarray:
    return np.random.default_rng(3).normal(size=(N, 3))


def test_sap_known_answers(binary: np.ndarray) -> None:
    # Perfect codes: the right dim predicts its binary factor exactly (accuracy 1); any other dim is independent
    # of it, so it is right half the time: gap 1 - 1/2 per factor, SAP = 0.5 (a little under: the second best of
    # two chance accuracies is a little over 1/2).
    perfect = sap(aligned(binary), binary)
    assert perfect == pytest.approx(0.5, abs=0.04)
    # One threshold per dim: a permutation or a rescaling (even a sign flip) leaves every accuracy as it was.
    assert sap(permute_and_rescale(aligned(binary)), binary[:, [2, 0, 1]]) == pytest.approx(perfect, abs=1e-9)
    # 45 degrees: (f1 + f2)/sqrt 2 takes 3 values; its middle value is f1 = 1 or 0 equally, so it predicts f1 (and
    # f2) with accuracy 3/4, and so does (f1 - f2)/sqrt 2. Factors 1 and 2 have two equal best codes: gap 0.
    # SAP = (0.5 + 0 + 0) / 3.
    assert sap(rotate_codes_1_2(aligned(binary)), binary) == pytest.approx(0.5 / 3, abs=0.03)
    # Random codes: every code is at chance for every factor, so every gap is ~0.
    assert sap(noise(), binary) < 0.03


def test_sap_hand_computed() -> None:
    # Code 0 = f0, code 1 = f0 AND f1, over the four pairs equally often, scored on the same rows.
    # Accuracies: code 0 -> f0 1, code 0 -> f1 1/2 (independent); code 1 -> f0 3/4 (AND = 0 on (0,0), (0,1), (1,0):
    # predict 0, wrong on (1,0) only), code 1 -> f1 3/4 (wrong on (0,1) only).
    # Gaps: f0 1 - 3/4, f1 3/4 - 1/2: SAP = (1/4 + 1/4) / 2 = 1/4.
    codes = np.stack([BINARY_PAIRS[:, 0], BINARY_PAIRS[:, 0] & BINARY_PAIRS[:, 1]], axis=1).astype(float)
    assert sap(codes, BINARY_PAIRS, codes, BINARY_PAIRS) == pytest.approx(0.25, abs=1e-9)
    with pytest.raises(ValueError, match="two code dimensions"):
        sap(codes[:, :1], BINARY_PAIRS)


def test_modularity_known_answers(factors: np.ndarray) -> None:
    # Perfect codes: each code has MI with one factor only, its template exactly: modularity 1.
    assert modularity(aligned(factors), factors) == pytest.approx(1.0, abs=1e-4)
    # Equal-width bins over each dim's own range: a permutation or a rescaling moves no sample to another bin.
    assert modularity(permute_and_rescale(aligned(factors)), factors) == pytest.approx(1.0, abs=1e-4)
    # 45 degrees: each mixed code has the same MI m with f1 and f2 (symmetric) and none with f0, so
    # delta = m^2 / (m^2 (k - 1)) = 1/2 with k = 3: modularity = (1 + 1/2 + 1/2) / 3 = 2/3.
    assert modularity(rotate_codes_1_2(aligned(factors)), factors) == pytest.approx(2 / 3, abs=0.01)
    # Random codes: every MI is estimator bias only (the definition has no chance value for modularity itself:
    # it compares those bias terms); the MI matrix is ~0 everywhere.
    assert mutual_information_matrix(noise(), factors).max() < 0.02


def test_modularity_hand_computed() -> None:
    # Code 0 = f1: MI row (0, 1 bit): modularity 1. Code 1 = f0 + f0 * f1 takes values 0, 0, 1, 2 on the pairs
    # (0,0), (0,1), (1,0), (1,1): it gives f0 fully (1 bit) and H(c) - H(c | f1) = 1.5 - 1 = 0.5 bit of f1.
    # Row (1, 0.5) bits: delta = 0.5^2 / (1^2 * 1), modularity 0.75. Mean (1 + 0.75) / 2 = 0.875.
    f0, f1 = BINARY_PAIRS[:, 0], BINARY_PAIRS[:, 1]
    codes = np.stack([f1, f0 + f0 * f1], axis=1).astype(float)
    bits = mutual_information_matrix(codes, BINARY_PAIRS) / math.log(2)
    np.testing.assert_allclose(bits, [[0.0, 1.0], [1.0, 0.5]], atol=1e-12)
    assert modularity(codes, BINARY_PAIRS) == pytest.approx(0.875, abs=1e-12)


def test_explicitness_known_answers(factors: np.ndarray) -> None:
    # Perfect codes: each value of each factor is ranked above the rest by its logistic probability: AUC 1.
    assert explicitness(aligned(factors), factors) > 0.99
    # The codes are standardised and the regression sees all of them: a permutation, a rescaling or the
    # invertible 45-degree mix leaves the same linear information, so explicitness stays at 1.
    assert explicitness(permute_and_rescale(aligned(factors)), factors) > 0.99
    assert explicitness(rotate_codes_1_2(aligned(factors)), factors) > 0.99
    # Random codes: the probabilities rank positives above negatives half the time: AUC 1/2.
    assert explicitness(noise(), factors) == pytest.approx(0.5, abs=0.03)


def test_explicitness_hand_computed() -> None:
    # One binary factor; class 0 at codes 0, 1, 2, class 1 at 1.5, 3, 4. P(class 1) rises with the code, so the
    # AUC is the share of (class 1, class 0) pairs in that order: 1.5 beats 0 and 1; 3 and 4 beat all: 8/9.
    # Class 0's AUC uses 1 - P(class 1), the same pairs: 8/9. Scored on the training rows themselves.
    codes = np.array([0.0, 1.0, 2.0, 1.5, 3.0, 4.0])[:, None]
    labels = np.array([0, 0, 0, 1, 1, 1])[:, None]
    assert explicitness(codes, labels, codes, labels) == pytest.approx(8 / 9, abs=1e-12)


@pytest.mark.parametrize("regressor", ["random_forest", "gradient_boosting"])
def test_dci_known_answers(factors: np.ndarray, regressor: str) -> None:
    rows = slice(0, 1_000)  # gradient boosting costs seconds a factor; the answers do not need more rows
    codes, truth = aligned(factors)[rows], factors[rows]
    perfect = dci(codes, truth, regressor=regressor)
    # Perfect codes: each classifier uses only its own code (importance one-hot): D = C = 1, I = 1.
    assert min(perfect.values()) > 0.99
    # Trees split on thresholds: a permutation or a monotone rescaling changes no split's quality.
    moved = dci(permute_and_rescale(codes), truth, regressor=regressor)
    assert min(moved.values()) > 0.99
    # 45 degrees (f1, f2 of equal size, so the split is even): each mixed code spreads its importance evenly
    # over 2 of the 3 factors, 1 - log 2 / log 3, and carries 2/3 of the weight:
    # D = 1/3 + 2/3 (1 - log 2 / log 3) = 0.5794, and C the same by symmetry; the information stays: I = 1.
    mixed = dci(rotate_codes_1_2(codes), truth, regressor=regressor)
    expected = 1 / 3 + 2 / 3 * (1 - math.log(2) / math.log(3))
    assert mixed["dci_disentanglement"] == pytest.approx(expected, abs=0.03)
    assert mixed["dci_completeness"] == pytest.approx(expected, abs=0.03)
    assert mixed["dci_informativeness"] > 0.99
    # Random codes: importance spreads evenly (D, C ~ 0); accuracy is chance, mean(1/3, 1/4, 1/4) = 0.278.
    chance = dci(noise()[rows], truth, regressor=regressor)
    assert chance["dci_disentanglement"] < 0.05 and chance["dci_completeness"] < 0.05
    assert chance["dci_informativeness"] == pytest.approx((1 / 3 + 1 / 4 + 1 / 4) / 3, abs=0.06)


@pytest.mark.parametrize("regressor", ["random_forest", "gradient_boosting"])
def test_dci_hand_computed(regressor: str) -> None:
    # Codes (f0, f1, constant) over a balanced design: the trees for f0 split on code 0 only (code 1 gains nothing,
    # the constant cannot split), so R = [[1, 0], [0, 1], [0, 0]]. Code 2 carries no importance (rho_2 = 0) and
    # does not count: D = 1; each factor's importance sits on one code: C = 1; predictions are exact: I = 1.
    f = np.stack([np.repeat(np.arange(3), 40), np.tile(np.arange(2), 60)], axis=1)  # (120, 2)
    codes = np.column_stack([f, np.zeros(len(f))]).astype(float)
    for value in dci(codes, f, regressor=regressor).values():
        assert value == pytest.approx(1.0, abs=1e-6)


@dataclass(frozen=True)
class FactorsOracle:
    """Independent uniform factors whose 'observations' are the factor values themselves."""

    factor_sizes: tuple[int, ...]

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.stack([rng.integers(0, size, n) for size in self.factor_sizes], axis=1)  # (n, k)

    def observations(self, factors: np.ndarray) -> np.ndarray:
        return factors.astype(float)


ORACLE = FactorsOracle((3, 4, 4))  # f1 and f2 of equal size, so the 45-degree mix is symmetric
ORACLE_COUNTS = {"batch_size": 16, "num_train": 600, "num_eval": 1_500}  # eval accuracy to about +-0.012


def linear(matrix: np.ndarray):
    # An encoder that is a known linear map of the factors: codes = factors @ matrix.
    return lambda observations: observations @ matrix


def random_encoder(seed: int):
    # Codes that know nothing about the factors: a fresh draw on every call, so two encodings never agree.
    rng = np.random.default_rng(seed)
    return lambda observations: rng.normal(size=(len(observations), 3))


PERMUTE_RESCALE = np.array([[0, 3.0, 0], [0, 0, -0.5], [10.0, 0, 0]])  # code = (10 f2, 3 f0, -0.5 f1)
MIX_45 = np.array([[1, 0, 0], [0, ROTATE[0], ROTATE[1]], [0, -ROTATE[1], ROTATE[0]]])


def test_score_settings_reference_the_library_counts() -> None:
    assert SCORE_SETTINGS["reference"] == {
        "batch_size": 64,
        "num_train": 10_000,
        "num_eval": 5_000,
        "num_variance_estimate": 10_000,
    }
    assert set(SCORE_SETTINGS["quick"]) == set(SCORE_SETTINGS["reference"])


def test_beta_vae_known_answers() -> None:
    # Perfect or permuted/rescaled codes: the fixed factor's code differs by exactly 0 over the batch, the others
    # do not: the classes are linearly separable, accuracy 1.
    assert beta_vae_score(ORACLE, linear(np.eye(3)), **ORACLE_COUNTS) > 0.99
    assert beta_vae_score(ORACLE, linear(PERMUTE_RESCALE), **ORACLE_COUNTS) > 0.99
    # 45 degrees: fixing f1 gives |dz| = (|df0|, |df2|/sqrt 2, |df2|/sqrt 2), fixing f2 the same with df1, and
    # f1, f2 have the same law: those two classes cannot be told apart. Accuracy = 1/3 + 2/3 * 1/2 = 2/3.
    assert beta_vae_score(ORACLE, linear(MIX_45), **ORACLE_COUNTS) == pytest.approx(2 / 3, abs=0.04)
    # Random codes: chance over the 3 factors.
    assert beta_vae_score(ORACLE, random_encoder(4), **ORACLE_COUNTS) == pytest.approx(1 / 3, abs=0.04)


def test_beta_vae_hand_computed() -> None:
    # Two binary factors, identity codes, batches of 1 pair: fixing f0 gives (0, |df1|), fixing f1 (|df0|, 0),
    # each difference 0 or 1 with probability 1/2. (0, 0) arises for both labels equally: a coin flip; the rest
    # is certain. Accuracy = 1/2 + 1/2 * 1/2 = 3/4. With 2 pairs, (0, 0) needs both pairs equal (1/4):
    # accuracy = 3/4 + 1/4 * 1/2 = 7/8.
    oracle, counts = FactorsOracle((2, 2)), {"num_train": 1_000, "num_eval": 3_000}
    assert beta_vae_score(oracle, linear(np.eye(2)), batch_size=1, **counts) == pytest.approx(0.75, abs=0.03)
    assert beta_vae_score(oracle, linear(np.eye(2)), batch_size=2, **counts) == pytest.approx(0.875, abs=0.03)


def test_factor_vae_known_answers() -> None:
    counts = {**ORACLE_COUNTS, "num_variance_estimate": 2_000}
    # Perfect codes: with a factor fixed its code has variance 0, the least, every time: accuracy 1; dividing
    # by the global std undoes any rescaling, and a permutation only renames the dims.
    assert factor_vae_score(ORACLE, linear(np.eye(3)), **counts) == pytest.approx(1.0)
    assert factor_vae_score(ORACLE, linear(PERMUTE_RESCALE), **counts) == pytest.approx(1.0)
    # 45 degrees: fixing f1 leaves both mixed codes at half their global variance (the f0 code at all of it), so
    # either may vote; f2 likewise. Whichever factor each mixed dim predicts, half of those votes are right:
    # accuracy = 1/3 + 2/3 * 1/2 = 2/3.
    assert factor_vae_score(ORACLE, linear(MIX_45), **counts) == pytest.approx(2 / 3, abs=0.04)
    # Random codes: votes fall anywhere, and the held-out votes are independent of the training majority that
    # names each dim's factor: right 1/3 of the time.
    assert factor_vae_score(ORACLE, random_encoder(4), **counts) == pytest.approx(1 / 3, abs=0.05)


def test_factor_vae_hand_computed_votes() -> None:
    # Three binary factors; code 0 = f0, code 1 = f1 + f2, code 2 collapsed (constant). Global variances 1/4, 1/2.
    # Fixing f0: code 0 has variance 0: votes (f0, code 0). Fixing f1: code 0 keeps all of its variance (ratio 1),
    # code 1 only f2's (1/4 of 1/2, ratio 1/2): votes (f1, code 1); f2 likewise. Code 2 never votes.
    oracle = FactorsOracle((2, 2, 2))
    encode = linear(np.array([[1.0, 0, 0], [0, 1, 0], [0, 1, 0]]))
    scale = np.array([0.5, math.sqrt(0.5), 0.0])  # global stds; 0 leaves a dim out of the vote
    votes = factor_vae_votes(oracle, encode, 300, 64, scale, np.random.default_rng(0))
    assert votes.sum() == 300
    assert votes[0, 1:].sum() == 0 and votes[1:, 0].sum() == 0 and votes[:, 2].sum() == 0
    # Classifier: code 0 -> f0, code 1 -> whichever of f1, f2 voted more in training. Held out, it is right on
    # the f0 batches and on those of the one factor code 1 names: accuracy = 1/3 + 1/3.
    encode3 = linear(np.array([[1.0, 0], [0, 1], [0, 1]]))
    accuracy = factor_vae_score(oracle, encode3, batch_size=64, num_train=600, num_eval=1_500, seed=1)
    assert accuracy == pytest.approx(2 / 3, abs=0.04)
    assert factor_vae_score(oracle, linear(np.zeros((3, 2))), num_train=10, num_eval=10) == 0.0  # nothing active


# A full factorial grid of two sources, 20 levels each: every pair of levels once, so the two columns' ranks are
# exactly uncorrelated (Spearman 0) and each column with itself or a monotone map of itself correlates exactly 1.
GRID = np.stack([np.repeat(np.arange(20.0), 20), np.tile(np.arange(20.0), 20)], axis=1)  # (400, 2)


def test_udr_hand_computed() -> None:
    s0, s1, constant = GRID[:, 0], GRID[:, 1], np.zeros(len(GRID))
    first = GRID
    # Same sources, permuted, one sign-flipped and one put through exp (Spearman sees ranks only): R is a
    # permutation matrix, every r^2 / sum is 1: UDR = (2 + 2) / (2 + 2) = 1.
    second = np.stack([-s1, np.exp(s0 / 5)], axis=1)
    # One informative dim (s0) and a collapsed one, left out: R = [[1], [0]] (2 x 1). Column: 1^2 / 1 = 1; rows:
    # 1^2 / 1 = 1 and an all-zero row, 0. UDR = (1 + 1 + 0) / (2 + 1) = 2/3.
    third = np.stack([s0, constant], axis=1)
    assert udr_pair(first, second) == pytest.approx(1.0, abs=1e-12)
    assert udr_pair(first, third[:, :1]) == pytest.approx(2 / 3, abs=1e-12)
    # Per model the median of its pairs: first and second have (1, 2/3) -> 5/6; third (2/3, 2/3) -> 2/3.
    # A model with no informative dim pairs with no one: no score, and it takes no pair from the others.
    scores, pairs = udr([first, second, third, np.zeros((len(GRID), 2))])
    np.testing.assert_allclose(scores[:3], [5 / 6, 5 / 6, 2 / 3], atol=1e-12)
    assert math.isnan(scores[3])
    assert pairs.tolist() == [2, 2, 2, 0]


def test_udr_known_answers() -> None:
    rng = np.random.default_rng(5)
    sources = rng.normal(size=(4_000, 3))
    collapsed = 1e-3 * rng.normal(size=(4_000, 1))  # variance 1e-6: not informative, left out
    # Perfect: every model holds each source in one dim (any order, scale or sign) plus a collapsed dim:
    # R is a permutation matrix up to sampling noise (|rho| ~ 1/sqrt N off it): UDR = 1.
    seeds = [
        np.hstack([sources[:, order] * scale, collapsed])
        for order, scale in (([0, 1, 2], [1, 1, 1]), ([2, 0, 1], [-3, 1, 0.2]), ([1, 2, 0], [5, -1, 2]))
    ]
    scores, pairs = udr(seeds)
    assert np.all(scores > 0.97) and pairs.tolist() == [2, 2, 2]
    # 45 degrees: against the aligned model, s1 and s2 each correlate with both mixed dims, Pearson 1/sqrt 2, so
    # Spearman rho = (6 / pi) asin(1 / (2 sqrt 2)) = 0.690 for Gaussians. R = [[1, 0, 0], [0, rho, rho],
    # [0, rho, rho]]: each mixed row and column gives rho^2 / (2 rho) = rho / 2: UDR = 2 (1 + rho) / 6.
    rho = 6 / math.pi * math.asin(1 / (2 * math.sqrt(2)))
    mixed = rotate_codes_1_2(sources)
    assert udr_pair(sources, mixed) == pytest.approx((1 + rho) / 3, abs=0.02)
    # Random: models that share nothing; every |rho| is noise ~ 1/sqrt N, so every ratio is ~0.
    scores, _ = udr([rng.normal(size=(4_000, 3)) for _ in range(3)])
    assert np.all(scores < 0.05)
    with pytest.raises(ValueError, match="same samples"):
        udr([sources, sources[:10]])


def test_udr_keeps_the_latents_whose_kl_exceeds_001_as_the_paper_does() -> None:
    # KL(N(mu, e^logvar) || N(0, 1)) = (mu^2 + e^logvar - logvar - 1) / 2 a sample, averaged over the samples.
    # Dim 0: mu = s0 (mean of s0^2 over the grid = 123.5), logvar 0: KL = 61.75, informative.
    # Dim 1: mu = 0.2 everywhere (no variance at all), logvar 0: KL = 0.02 > 0.01: informative by KL, though the
    #        variance rule would drop it. Dim 2: mu = 0, logvar = 0: KL = 0, not informative.
    mu = np.stack([GRID[:, 0], np.full(len(GRID), 0.2), np.zeros(len(GRID))], axis=1)
    assert informative_by_kl(mu, np.zeros_like(mu)).tolist() == [True, True, False]
    # With the KL masks, the first model keeps (s0, constant) and the second (s0): R = [[1], [nan -> 0]] as in the
    # hand case above: UDR = (1 + 1 + 0) / (2 + 1) = 2/3 each. The variance rule keeps s0 alone on both sides: 1.
    other = np.stack([GRID[:, 0], np.zeros(len(GRID))], axis=1)
    masks = [np.array([True, True, False]), np.array([True, False])]
    scores, pairs = udr([mu, other], informative=masks)
    np.testing.assert_allclose(scores, [2 / 3, 2 / 3], atol=1e-12)
    assert pairs.tolist() == [1, 1]
    np.testing.assert_allclose(udr([mu, other])[0], [1.0, 1.0], atol=1e-12)
    with pytest.raises(ValueError, match="one mask a model"):
        udr([mu, other], informative=masks[:1])


def test_oracle_scores_render_observations_a_chunk_at_a_time() -> None:
    # 150 points x 64 pairs x 2 sides = 19,200 observations: none of the oracle's calls may render them all at once.
    sizes = []

    class Recording(FactorsOracle):
        def observations(self, factors: np.ndarray) -> np.ndarray:
            sizes.append(len(factors))
            return super().observations(factors)

    score = beta_vae_score(Recording((3, 4, 4)), linear(np.eye(3)), batch_size=64, num_train=100, num_eval=50)
    assert score > 0.99 and sum(sizes) == 150 * 64 * 2 and max(sizes) <= 4_096
