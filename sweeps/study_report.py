"""`latentsweep study SWEEP --out DIR`: what a study found, as figures and a Markdown table (no Ray, no torch).

Every trial as a row (its swept keys, best_loss, every score); for each configuration (a method and its
hyperparameter values) trained with several seeds, the distribution of each score over those seeds, as in Locatello
et al. 2019's figures, with a bootstrapped 95% interval of the median (a sweep of one seed a configuration says so
once and draws none); and the Spearman rank correlation between the scores over all trials, as in their figure on
how the metrics agree.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.settings import SettingsError
from sweeps.status import read_table
from sweeps.table_files import markdown_table
from vaemodels import (
    configuration_labels,
    rank_correlation,
    resolve,
    scores_present,
    summary_table,
    swept_keys,
)

ONE_SEED = (
    "Each configuration was trained with one seed, so there is no spread over seeds to show: no intervals and no "
    "per-score plots over seeds, only the trials above and how the scores agree below."
)


def trial_table(finished: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """One row a trial: its id, the keys the sweep varied, best_loss and every score."""
    columns = ["trial_id", *swept_keys(finished), "best_loss", *scores]
    return finished[[column for column in dict.fromkeys(columns) if column in finished]]


def markdown(finished: pd.DataFrame, summary: pd.DataFrame, correlation: pd.DataFrame, scores: list[str]) -> str:
    """The report: every trial, the configurations trained with several seeds (their medians and intervals), and
    the correlation matrix, as Markdown tables."""
    lines = ["# Study report", "", "## Trials", "", markdown_table(trial_table(finished, scores))]
    lines += _over_seeds(summary, scores)
    lines += ["## How the scores agree", ""]
    lines += ["| Spearman | " + " | ".join(scores) + " |", "|---|" + "---|" * len(scores)]
    for score in scores:
        lines.append(f"| {score} | " + " | ".join(_number(correlation.loc[score, other]) for other in scores) + " |")
    return "\n".join(lines) + "\n"


def _over_seeds(summary: pd.DataFrame, scores: list[str]) -> list[str]:
    """The medians and intervals of the configurations with several seeds; one line when there is none."""
    replicated = summary[summary["seeds"] > 1]
    if replicated.empty:
        return [ONE_SEED, ""]
    lines = ["## Over seeds", ""]
    lines += ["| configuration | seeds | " + " | ".join(scores) + " |", "|---|---|" + "---|" * len(scores)]
    for row in replicated.itertuples(index=False):
        cells = [_interval(getattr(row, score)) for score in scores]
        lines.append(f"| {row.configuration} | {row.seeds} | " + " | ".join(cells) + " |")
    lines += ["", "Median over seeds [bootstrapped 95% interval of the median]."]
    single = len(summary) - len(replicated)
    if single:
        lines.append(f"{_one_seed_count(single)} only in the trials above.")
    return [*lines, ""]


def write_report(frame: pd.DataFrame, out: Path, scores: list[str] | None = None, seed: int = 0) -> list[Path]:
    """Figures (a score's spread over seeds where a configuration has several, and the correlation matrix) and
    report.md into `out`; the paths written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from sweeps import study_figures

    finished = frame[frame["status"] == "TERMINATED"]
    scores = scores or scores_present(finished)
    if finished.empty or not scores:
        raise SettingsError("no finished trial with a score yet: nothing to report")
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_table(finished, scores, seed)
    replicated = summary[summary["seeds"] > 1]  # the figures show a spread over seeds only where there is one
    correlation = rank_correlation(finished, scores)
    labels = configuration_labels(finished)
    figures = scores if not replicated.empty else []
    written = [study_figures.score_figure(finished, labels, replicated, score, out) for score in figures]
    written.append(study_figures.correlation_figure(correlation, out))
    report = out / "report.md"
    report.write_text(markdown(finished, summary, correlation, scores))
    return [*written, report]


def study_command(args: argparse.Namespace) -> int:
    """`latentsweep study`: the report of a sweep."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():  # checked first: the report is written only after its figures are made
        raise SettingsError(f"--out {out}: a file, not a folder; give a folder for the figures and report.md")
    frame, _ = read_table(resolve(args.sweep_dir))
    scores = [name for name in (args.scores or "").split(",") if name] or None
    unknown = [name for name in scores or () if name not in frame]
    if unknown:
        raise SettingsError(
            f"--scores {unknown[0]}: not a column of the table; it has {', '.join(scores_present(frame))}"
        )
    for path in write_report(frame, out, scores, args.seed):
        print(path)
    return 0


def _number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.2f}"


def _interval(cell: tuple[float, float, float]) -> str:
    median, low, high = cell
    return "" if not np.isfinite(median) else f"{median:.3g} [{low:.3g}, {high:.3g}]"


def _one_seed_count(count: int) -> str:
    """'1 configuration trained with one seed appears', '3 configurations ... appear'."""
    if count == 1:
        return "1 configuration trained with one seed appears"
    return f"{count} configurations trained with one seed appear"
