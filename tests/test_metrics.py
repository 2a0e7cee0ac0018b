"""Known-answer tests for vaemodels.metrics (hand-made codes with known disentanglement)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaemodels.metrics import (
    DCI_KEYS,
    DCI_REGRESSORS,
    LATENT_KEYS,
    active_mask,
    active_units,
    dci,
    dci_metrics,
    gaussian_tc,
    latent_metrics,
    mig,
    probe_accuracy,
)

N = 10_000
CARDINALITIES = (3, 6, 10, 8, 5)
DCI_SAMPLES = 5_000  # DCI on half the rows keeps the file fast; the scores are the same in kind


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    # (N, 5) independent factors, each uniform over its own cardinality (all <= 20 bins).
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, c, N) for c in CARDINALITIES], axis=1)


@pytest.fixture(scope="module")
def aligned(factors: np.ndarray) -> np.ndarray:
    # Perfectly disentangled codes: code i = factor i plus tiny noise.
    return factors + 1e-3 * np.random.default_rng(1).normal(size=factors.shape)


@pytest.fixture(scope="module")
def rotated(aligned: np.ndarray) -> np.ndarray:
    # Factors 2 and 3 (cardinalities 10 and 8) mixed by an invertible 45-degree rotation into codes 2 and 3.
    c, s = math.cos(math.pi / 4), math.sin(math.pi / 4)
    out = aligned.copy()
    out[:, 2], out[:, 3] = c * aligned[:, 2] - s * aligned[:, 3], s * aligned[:, 2] + c * aligned[:, 3]
    return out


def test_mig_hand_computed() -> None:
    # f uniform over 4 values; code 0 = f // 2 keeps 1 of its 2 bits, code 1 is constant: MIG = log 2 / log 4.
    f = np.repeat(np.arange(4), 250)
    codes = np.stack([f // 2, np.zeros_like(f)], axis=1).astype(float)
    assert mig(codes, f) == pytest.approx(0.5, abs=1e-9)
    # A second code that copies the factor leaves no gap at all.
    assert mig(np.stack([f, f], axis=1).astype(float), f) == pytest.approx(0.0, abs=1e-9)
    # One code dim: the gap is the whole MI.
    assert mig(f.astype(float), f) == pytest.approx(1.0, abs=1e-9)


def test_mig_skips_constant_factor() -> None:
    f = np.repeat(np.arange(4), 250)
    both = np.stack([f, np.zeros_like(f)], axis=1)
    assert mig(f.astype(float)[:, None], both) == pytest.approx(1.0, abs=1e-9)
    assert math.isnan(mig(f.astype(float)[:, None], np.zeros((f.size, 1), dtype=int)))


def test_aligned_codes_score_high(aligned: np.ndarray, factors: np.ndarray) -> None:
    assert mig(aligned, factors) > 0.9
    scores = dci_metrics(aligned, factors, max_samples=DCI_SAMPLES)
    assert set(scores) == set(DCI_KEYS)
    assert scores["dci_disentanglement"] > 0.9
    assert scores["dci_completeness"] > 0.9
    assert scores["dci_informativeness"] > 0.99


def test_random_codes_score_low(factors: np.ndarray) -> None:
    noise = np.random.default_rng(2).normal(size=factors.shape)
    assert mig(noise, factors) < 0.05
    scores = dci_metrics(noise, factors, max_samples=DCI_SAMPLES)
    assert scores["dci_disentanglement"] < 0.05
    assert scores["dci_completeness"] < 0.05


def test_rotation_lowers_scores(aligned: np.ndarray, rotated: np.ndarray, factors: np.ndarray) -> None:
    assert mig(aligned, factors) - mig(rotated, factors) >= 0.2
    # DCI over all 5 factors: codes 2 and 3 each split their importance evenly over 2 of the 5 factors, so each
    # scores 1 - log 2 / log 5 and carries 2/5 of the weight: D = 1 - 0.4 log 2 / log 5 = 0.828, a drop of only
    # 0.17. (No mixing of two factors can lower D by 0.2 when k = 5.)
    d_rotated = dci_metrics(rotated, factors, max_samples=DCI_SAMPLES)["dci_disentanglement"]
    assert d_rotated == pytest.approx(1 - 0.4 * math.log(2) / math.log(5), abs=0.02)
    # Over factors 2, 3, 4 (two of three mixed) both scores fall by well over 0.2.
    cols = [2, 3, 4]
    assert mig(aligned[:, cols], factors[:, cols]) - mig(rotated[:, cols], factors[:, cols]) >= 0.2
    d_aligned = dci_metrics(aligned[:, cols], factors[:, cols], max_samples=DCI_SAMPLES)["dci_disentanglement"]
    d_rotated = dci_metrics(rotated[:, cols], factors[:, cols], max_samples=DCI_SAMPLES)["dci_disentanglement"]
    assert d_aligned - d_rotated >= 0.2


def test_dci_trivial_shapes() -> None:
    # One code and one factor: nothing to spread importance over, so D = C = 1 by convention.
    f = np.random.default_rng(3).integers(0, 4, 2_000)
    scores = dci(f.astype(float), f)
    assert scores["dci_disentanglement"] == pytest.approx(1.0)
    assert scores["dci_completeness"] == pytest.approx(1.0)
    assert scores["dci_informativeness"] == pytest.approx(1.0)


def test_dci_gradient_boosting_and_unknown_regressor() -> None:
    assert DCI_REGRESSORS == ("random_forest", "gradient_boosting")
    rng = np.random.default_rng(4)
    f = rng.integers(0, 3, size=(300, 2))
    scores = dci(f + 1e-3 * rng.normal(size=f.shape), f, regressor="gradient_boosting")
    assert scores["dci_disentanglement"] > 0.9
    with pytest.raises(ValueError, match="lasso"):
        dci(f.astype(float), f, regressor="lasso")
    with pytest.raises(ValueError, match="lasso"):
        dci_metrics(f.astype(float), f, regressor="lasso")


def test_active_units() -> None:
    rng = np.random.default_rng(5)
    codes = np.stack(
        [
            np.full(1_000, 3.0),  # constant: not active
            rng.normal(0, 1.0, 1_000),  # variance 1
            rng.normal(0, 0.05, 1_000),  # variance 0.0025 < 0.01
            rng.normal(0, 0.2, 1_000),  # variance 0.04 > 0.01
        ],
        axis=1,
    )
    assert active_mask(codes).tolist() == [False, True, False, True]
    assert active_units(codes) == 2
    assert active_units(codes, threshold=0.001) == 3


def test_gaussian_tc() -> None:
    rng = np.random.default_rng(6)
    assert gaussian_tc(rng.normal(size=(N, 4))) < 0.01
    rho = 0.8
    xy = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=N) * [1.0, 5.0]  # TC ignores scale
    expected = -0.5 * math.log(1 - rho**2)
    assert gaussian_tc(xy) == pytest.approx(expected, abs=0.02)
    # A constant dim is dropped, not turned into log(0).
    assert gaussian_tc(np.column_stack([xy, np.ones(N)])) == pytest.approx(gaussian_tc(xy))
    assert gaussian_tc(rng.normal(size=(N, 1))) == 0.0


def test_probe_accuracy() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 4, 4_000)
    centres = 10.0 * np.eye(4)  # (4 classes, 4 dims), far apart
    separable = centres[labels] + rng.normal(size=(4_000, 4))
    assert probe_accuracy(separable, labels) > 0.99
    random_labels = rng.integers(0, 4, 4_000)
    assert abs(probe_accuracy(separable, random_labels) - 0.25) < 0.04
    # Unlabelled rows (-1) are ignored; fewer than two classes gives nan.
    partly = np.where(rng.random(4_000) < 0.5, -1, labels)
    assert probe_accuracy(separable, partly) > 0.99
    assert math.isnan(probe_accuracy(separable, np.full(4_000, -1)))
    assert math.isnan(probe_accuracy(separable, np.zeros(4_000, dtype=int)))


def test_latent_metrics(factors: np.ndarray) -> None:
    # Realistic: 32 dims, 5 informative (mixed factors), the rest collapsed to tiny noise around 0.
    rng = np.random.default_rng(8)
    mu = 0.01 * rng.normal(size=(N, 32)).astype(np.float32)
    mu[:, :5] += (factors - factors.mean(0)) / factors.std(0) + 0.3 * rng.normal(size=(N, 5))
    labels = factors[:, 0]
    out = latent_metrics(mu, labels=labels, factors=factors)
    assert tuple(out) == LATENT_KEYS
    assert all(math.isfinite(v) for v in out.values()), out
    assert out["active_units"] == 5
    assert out["probe_accuracy"] > 0.9
    missing = latent_metrics(mu)
    assert math.isnan(missing["probe_accuracy"]) and math.isnan(missing["mig"])
    assert missing["active_units"] == 5 and math.isfinite(missing["gaussian_tc"])
    assert all(math.isnan(v) for v in latent_metrics(np.full((10, 3), np.nan)).values())
