"""`latentsweep study SWEEP --out DIR`: what a study found, as figures and a Markdown table (no Ray, no torch).

For each configuration (a method and its hyperparameter values), the distribution of each score over the seeds that
trained it, as in Locatello et al. 2019's figures, with a bootstrapped 95% interval of the median; and the Spearman
rank correlation between the scores over all trials, as in their figure on how the metrics agree.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.settings import SettingsError
from sweeps.status import read_table
from vaemodels import configuration_labels, rank_correlation, resolve, scores_present, summary_table


def markdown(summary: pd.DataFrame, correlation: pd.DataFrame, scores: list[str]) -> str:
    """The summary and the correlation matrix as Markdown tables."""
    lines = ["| configuration | seeds | " + " | ".join(scores) + " |", "|---|---|" + "---|" * len(scores)]
    for row in summary.itertuples(index=False):
        cells = [_interval(getattr(row, score)) for score in scores]
        lines.append(f"| {row.configuration} | {row.seeds} | " + " | ".join(cells) + " |")
    lines += ["", "Median over seeds [bootstrapped 95% interval of the median].", ""]
    lines += ["| Spearman | " + " | ".join(scores) + " |", "|---|" + "---|" * len(scores)]
    for score in scores:
        lines.append(f"| {score} | " + " | ".join(_number(correlation.loc[score, other]) for other in scores) + " |")
    return "\n".join(lines) + "\n"


def write_report(frame: pd.DataFrame, out: Path, scores: list[str] | None = None, seed: int = 0) -> list[Path]:
    """Figures (one a score, and the correlation matrix) and report.md into `out`; the paths written."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    from sweeps import study_figures

    finished = frame[frame["status"] == "TERMINATED"]
    scores = scores or scores_present(finished)
    if finished.empty or not scores:
        raise SettingsError("no finished trial with a score yet: nothing to report")
    out.mkdir(parents=True, exist_ok=True)
    summary = summary_table(finished, scores, seed)
    correlation = rank_correlation(finished, scores)
    labels = configuration_labels(finished)
    written = [study_figures.score_figure(finished, labels, summary, score, out) for score in scores]
    written.append(study_figures.correlation_figure(correlation, out))
    report = out / "report.md"
    report.write_text(markdown(summary, correlation, scores))
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
