"""Attribute vectors and nearest samples, on codes whose answer is known."""

import numpy as np
import pytest

from explorer.compare.attributes import attribute_vector, projection, rest_of, strip_along
from explorer.compare.neighbours import nearest_samples


def two_clusters() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    left = rng.normal(size=(50, 3)) * 0.1 + [-2.0, 1.0, 0.0]
    right = rng.normal(size=(50, 3)) * 0.1 + [2.0, 1.0, 0.0]
    return np.vstack([left, right]), np.arange(100) >= 50


def test_the_vector_points_from_one_centroid_to_the_other():
    codes, is_right = two_clusters()
    vector = attribute_vector(codes, is_right, rest_of(is_right))
    expected = codes[50:].mean(axis=0) - codes[:50].mean(axis=0)
    np.testing.assert_allclose(vector, expected)
    assert vector[0] == pytest.approx(4.0, abs=0.1) and abs(vector[1]) < 0.1


def test_projection_separates_the_selections_and_is_a_length():
    codes, is_right = two_clusters()
    along = projection(codes, attribute_vector(codes, is_right, ~is_right))
    assert along[is_right].min() > along[~is_right].max()
    np.testing.assert_allclose(projection(np.eye(3), np.array([0.0, 3.0, 0.0])), [0.0, 1.0, 0.0])


def test_a_strip_walks_evenly_along_the_vector_through_the_sample():
    start, vector = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    strip = strip_along(start, vector, steps=5, reach=1.0)
    np.testing.assert_allclose(strip[2], start)
    np.testing.assert_allclose(strip[:, 1], [-2.0, -1.0, 0.0, 1.0, 2.0])
    assert np.all(strip[:, 0] == 1.0)


def test_empty_selections_and_zero_vectors_are_refused_with_a_reason():
    codes, is_right = two_clusters()
    with pytest.raises(ValueError, match="away_from selection is empty"):
        attribute_vector(codes, is_right, np.zeros(100, dtype=bool))
    with pytest.raises(ValueError, match="boolean mask over the 100"):
        attribute_vector(codes, is_right[:10], ~is_right)
    with pytest.raises(ValueError, match="zero"):
        projection(codes, np.zeros(3))


def test_nearest_samples_are_the_closest_others_in_order():
    codes = np.array([[0.0], [10.0], [1.0], [3.0], [-0.5], [20.0]])
    rows, distances = nearest_samples(codes, row=0, k=3)
    assert rows.tolist() == [4, 2, 3]
    np.testing.assert_allclose(distances, [0.5, 1.0, 3.0])
    with pytest.raises(ValueError, match="outside the 6 samples"):
        nearest_samples(codes, row=6)
