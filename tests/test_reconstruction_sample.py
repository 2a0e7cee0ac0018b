"""The Trial tab's reconstructions show a fixed sample of the validation rows spread over the classes, even when the
latents file is ordered by class."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from explorer.store import ResultsStore
from explorer.trial.sampling import spread_rows
from vaemodels import load_or_rebuild, resolve


def test_the_sample_takes_each_class_in_turn_and_is_the_same_each_time():
    labels = np.repeat(np.arange(10), 50)  # a file ordered by class
    rows = spread_rows(labels, 12)
    assert len(set(rows)) == 12 and set(labels[rows]) == set(range(10))
    assert np.bincount(labels[rows]).max() == 2  # no class twice before every class once
    np.testing.assert_array_equal(spread_rows(labels, 12), rows)  # a fixed seed
    assert list(labels[rows]) == sorted(labels[rows])  # shown grouped by class
    unlabelled = spread_rows(np.full(30, -1), 5)
    assert len(set(unlabelled)) == 5 and not np.array_equal(unlabelled, np.arange(5))
    assert list(spread_rows(np.array([2, 2, 0]), 12)) == [2, 0, 1]  # fewer rows than asked: every one


@pytest.mark.slow  # trials trained in a session fixture
def test_the_trial_tab_reconstructs_every_class_from_a_file_ordered_by_class(finished_trials, tmp_path):
    sweep = shutil.copytree(finished_trials / "trial0", tmp_path / "sorted" / "trial0").parent
    frame, _ = load_or_rebuild(resolve(sweep), write=True)
    latents = sweep / frame.iloc[0]["latents_path"]
    table = pq.read_table(latents)
    pq.write_table(table.sort_by("label"), latents)  # the schema keeps its metadata
    labels = table.column("label").to_numpy()
    assert len(np.unique(labels)) == 3 and (np.sort(labels)[:6] == np.sort(labels)[0]).all()  # head: one class
    first = ResultsStore(tmp_path).reconstructions("sorted", "trial0", count=6)
    assert sorted(first.labels) == [0, 0, 1, 1, 2, 2]
    again = ResultsStore(tmp_path).reconstructions("sorted", "trial0", count=6)
    np.testing.assert_array_equal(again.sample_ids, first.sample_ids)
