"""`latentsweep study`: configurations, medians with bootstrapped intervals, the score correlation, the files."""

import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers.tables import study_rows
from vaemodels import frame_from_rows, resolve, write_trials_table
from vaemodels.cli import main
from vaemodels.study_stats import (
    configuration_labels,
    has_seed_replicates,
    median_interval,
    rank_correlation,
    rank_disagreement,
    summary_table,
)


def test_a_configuration_is_its_method_and_the_keys_that_vary_within_it_not_the_seed():
    frame = frame_from_rows(study_rows()[:-1])
    labels = configuration_labels(frame)
    assert sorted(set(labels)) == ["beta_tcvae tc_weight=2", "beta_tcvae tc_weight=6", "vae beta=1", "vae beta=4"]


def test_the_median_interval_holds_the_median_and_a_constant_sample_has_a_point_interval():
    assert median_interval(np.array([3.0, 3.0, 3.0])) == (3.0, 3.0, 3.0)
    median, low, high = median_interval(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    assert median == 3.0 and 1.0 <= low <= 3.0 <= high <= 100.0  # a bootstrap median is one of the values' medians
    assert median_interval(np.array([1.0, 2.0, 3.0, 4.0, 100.0]), seed=5) == median_interval(
        np.array([1.0, 2.0, 3.0, 4.0, 100.0]), seed=5
    )  # seeded
    assert all(np.isnan(median_interval(np.array([np.nan]))))


def test_the_summary_counts_seeds_and_the_correlation_follows_the_ranks():
    frame = frame_from_rows(study_rows()[:-1])
    summary = summary_table(frame, ["mig"]).set_index("configuration")
    assert (summary["seeds"] == 3).all()
    assert summary.loc["vae beta=4", "mig"][0] == pytest.approx(0.41)  # seeds add 0, 0.01, 0.02 to 0.4
    correlation = rank_correlation(frame, ["mig", "dci_disentanglement", "active_units"])
    assert correlation.loc["mig", "dci_disentanglement"] == pytest.approx(1.0)  # same order
    assert correlation.loc["mig", "active_units"] == pytest.approx(-1.0)  # reversed


def test_the_command_writes_a_figure_a_score_the_matrix_and_the_table(tmp_path, capsys):
    write_trials_table(resolve(str(tmp_path / "sweep")), frame_from_rows(study_rows()), {})
    assert main(["study", str(tmp_path / "sweep"), "--out", str(tmp_path / "report")]) == 0
    written = sorted(path.name for path in (tmp_path / "report").iterdir())
    assert written == ["active_units.png", "dci_disentanglement.png", "mig.png", "report.md", "score_correlation.png"]
    assert Image.open(tmp_path / "report" / "mig.png").size[0] >= 600
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| vae beta=4 | 3 | " in report and "broken" not in report  # only finished trials
    assert main(["study", str(tmp_path / "sweep"), "--out", str(tmp_path / "r2"), "--scores", "nope"]) == 2
    assert "--scores nope: not a column of the table" in capsys.readouterr().err
    assert main(["study", str(tmp_path / "missing"), "--out", str(tmp_path / "r3")]) == 2


def test_replicates_are_configurations_trained_with_more_than_one_seed():
    frame = frame_from_rows(study_rows()[:-1])
    assert has_seed_replicates(frame)
    one_seed = frame[frame["seed"] == 0]  # four configurations, one seed each
    assert not has_seed_replicates(one_seed)
    assert not has_seed_replicates(frame.drop(columns="seed"))


def test_the_disagreement_list_puts_the_trial_whose_ranks_differ_most_first():
    # Four trials: a ranks them 1 2 3 4 (highest first), b ranks them 4 2 3 1; w and z swap ends (difference 3),
    # x and y keep their places (difference 0).
    frame = frame_from_rows([
        {"trial_id": name, "a": a, "b": b} for name, a, b in (("w", 4, 1), ("x", 3, 3), ("y", 2, 2), ("z", 1, 4))
    ])  # fmt: skip
    listed = rank_disagreement(frame, "a", "b", top=3)
    assert list(listed["trial_id"][:2]) == ["w", "z"] and list(listed["rank difference"]) == [3.0, 3.0, 0.0]
    assert listed.loc[0, "rank a"] == 1.0 and listed.loc[0, "rank b"] == 4.0


def test_a_score_against_itself_disagrees_nowhere():
    frame = frame_from_rows(study_rows()[:-1])
    assert (rank_disagreement(frame, "mig", "mig")["rank difference"] == 0).all()


def test_a_one_seed_sweeps_report_has_a_row_a_trial_and_no_intervals(tmp_path):
    rows = [row for row in study_rows() if row.get("seed") == 0]  # four configurations, one seed each (and no error)
    write_trials_table(resolve(str(tmp_path / "sweep")), frame_from_rows(rows), {})
    assert main(["study", str(tmp_path / "sweep"), "--out", str(tmp_path / "report")]) == 0
    assert sorted(path.name for path in (tmp_path / "report").iterdir()) == ["report.md", "score_correlation.png"]
    report = (tmp_path / "report" / "report.md").read_text()
    header = "| trial_id | arch | beta | tc_weight | best_loss | mig | dci_disentanglement | active_units |"
    assert header in report
    for row in rows:  # every trial once, with its own values
        assert report.count(f"| {row['trial_id']} | {row['arch']} |") == 1
    assert "| vae-4.0-0 | vae | 4 |  | 99.6 | 0.4 | 0.16 | -0.4 |" in report
    assert re.search(r"\[[-\d.e]+, [-\d.e]+\]", report) is None and "## Over seeds" not in report  # no interval
    assert report.count("trained with one seed") == 1


def test_a_report_with_seeds_lists_each_trial_and_the_intervals_of_the_replicated_configurations(tmp_path):
    rows = [*study_rows()[:-1], {**study_rows()[0], "trial_id": "lone", "beta": 9.0}]  # one configuration, one seed
    write_trials_table(resolve(str(tmp_path / "sweep")), frame_from_rows(rows), {})
    assert main(["study", str(tmp_path / "sweep"), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| trial_id | arch | beta | tc_weight | seed |" in report and "| lone | vae | 9 |" in report
    assert "| vae beta=4 | 3 | 0.41 [" in report and "vae beta=9 |" not in report  # no interval of one value
    assert "1 configuration trained with one seed appears only in the trials above." in report
