"""Matching two trials' latent dimensions and neighbourhoods, on cases whose answer is known."""

import numpy as np
import pytest

from explorer.compare.matching import (
    aligned_to,
    match_dimensions,
    neighbourhood_preservation,
    procrustes_align,
    sample_sharing,
    shared_rows,
)


def codes(n: int = 400, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def test_a_trial_matches_itself_dimension_for_dimension_and_keeps_every_neighbour():
    mu = codes()
    match = match_dimensions(mu, mu)
    assert match.b_of_a.tolist() == list(range(6))
    np.testing.assert_allclose(match.correlation, 1.0)
    assert neighbourhood_preservation(mu, mu, k=10) == 1.0


def test_a_permuted_sign_flipped_copy_is_matched_back_exactly():
    mu = codes()
    permutation, signs = np.array([3, 0, 5, 1, 4, 2]), np.array([1, -1, -1, 1, -1, 1])
    copy = mu[:, permutation] * signs  # B's column j is A's column permutation[j], flipped by signs[j]
    match = match_dimensions(mu, copy)
    assert [int(permutation[j]) for j in match.b_of_a] == list(range(6))
    np.testing.assert_allclose(aligned_to(mu, copy, match), mu)
    assert neighbourhood_preservation(mu, copy, k=15) == 1.0  # distances are unchanged


def test_random_codes_keep_about_k_over_n_of_the_neighbours():
    n, k = 600, 20
    score = neighbourhood_preservation(codes(n, 4, seed=1), codes(n, 4, seed=2), k=k)
    assert score == pytest.approx(k / (n - 1), abs=0.02)
    assert score < 0.1


def test_procrustes_undoes_a_rotation_and_reports_no_residual():
    mu = codes(d=4)
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(4, 4)))
    rotated, residual = procrustes_align(mu, mu @ rotation + 5.0)
    np.testing.assert_allclose(rotated, mu, atol=1e-9)
    assert residual < 1e-9
    assert procrustes_align(mu, codes(d=4, seed=9))[1] > 0.5


def test_unequal_sizes_are_matched_as_far_as_they_go_and_procrustes_refuses_them():
    mu = codes(d=5)
    match = match_dimensions(mu, mu[:, [4, 1, 2]])
    assert dict(zip(match.a_dims.tolist(), match.b_of_a.tolist(), strict=True)) == {1: 1, 2: 2, 4: 0}
    with pytest.raises(ValueError, match="equal latent sizes"):
        procrustes_align(mu, mu[:, :3])


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="same samples"):
        match_dimensions(codes(100), codes(90))
    with pytest.raises(ValueError, match="k must be"):
        neighbourhood_preservation(codes(10), codes(10), k=10)


def test_sample_ids_are_shared_only_with_the_same_data_settings_and_data_seed():
    base = {"dataset": "shapes", "image_size": 32, "n_samples": 600, "data_seed": 0, "seed": 0, "beta": 1.0}
    assert sample_sharing(base, {**base, "beta": 8.0, "seed": 3}).shared
    other_seed = sample_sharing(base, {**base, "data_seed": 1})
    assert not other_seed.shared and other_seed.differences == ("data_seed: 0 vs 1",)
    assert "different samples" in other_seed.describe()
    assert not sample_sharing(base, {**base, "dataset": "mnist_5k"}).shared
    old = {k: v for k, v in base.items() if k != "data_seed"}  # made before data_seed: it reads as seed
    assert sample_sharing(old, base).shared
    assert not sample_sharing({**old, "seed": 2}, base).shared


def test_shared_rows_line_up_the_common_sample_ids():
    rows_a, rows_b = shared_rows(np.array([7, 3, 9, 1]), np.array([1, 9, 4, 7]))
    assert rows_a.tolist() == [0, 2, 3] and rows_b.tolist() == [3, 1, 0]
