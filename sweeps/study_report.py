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
from vaemodels import ARCHITECTURES, CONFIG_KEYS, DCI_KEYS, resolve

BOOTSTRAP_SAMPLES = 2000
# The disentanglement scores first, then the latent space's other statistics.
SCORES = ("mig", *DCI_KEYS, "gaussian_tc", "probe_accuracy", "active_units")
NOT_HYPERPARAMETERS = ("arch", "seed", "data_seed", "data_dir")  # vary without making another configuration


def configuration_labels(frame: pd.DataFrame) -> pd.Series:
    """'beta_tcvae tc_weight=6' for each row: its architecture and the keys that vary within that architecture's
    trials, leaving out the seeds."""
    labels = pd.Series("", index=frame.index, dtype=object)
    for arch, rows in frame.groupby("arch", sort=False):
        keys = [
            key
            for key in CONFIG_KEYS
            if key in rows and key not in NOT_HYPERPARAMETERS and rows[key].astype(str).nunique() > 1
        ]
        for index, row in rows.iterrows():
            parts = [f"{key}={_short(row[key])}" for key in keys]
            labels[index] = " ".join([str(arch), *parts])
    return labels


def median_interval(values: np.ndarray, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """The median and a percentile-bootstrap interval of it (`BOOTSTRAP_SAMPLES` resamples, seeded)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return (np.nan, np.nan, np.nan)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(values, size=(BOOTSTRAP_SAMPLES, len(values)), replace=True), axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(np.median(values)), float(low), float(high)


def score_columns(frame: pd.DataFrame) -> list[str]:
    """The scores the table holds a value of, in `SCORES` order."""
    return [name for name in SCORES if name in frame and frame[name].notna().any()]


def summary_table(frame: pd.DataFrame, scores: list[str], seed: int = 0) -> pd.DataFrame:
    """One row a configuration: its seed count and each score's median with its interval."""
    rows = []
    labelled = frame.assign(configuration=configuration_labels(frame))
    groups = sorted(labelled.groupby("configuration", sort=False), key=lambda item: _label_order(item[0]))
    for label, group in groups:
        row: dict[str, object] = {"configuration": label, "seeds": len(group)}
        for score in scores:
            row[score] = median_interval(group[score].to_numpy(), seed)
        rows.append(row)
    return pd.DataFrame(rows)


def rank_correlation(frame: pd.DataFrame, scores: list[str]) -> pd.DataFrame:
    """Spearman correlation between every pair of scores over the trials that have both."""
    return frame[scores].astype(float).corr(method="spearman")


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
    scores = scores or score_columns(finished)
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
    frame, _ = read_table(resolve(args.sweep_dir))
    scores = [name for name in (args.scores or "").split(",") if name] or None
    unknown = [name for name in scores or () if name not in frame]
    if unknown:
        raise SettingsError(
            f"--scores {unknown[0]}: not a column of the table; it has {', '.join(score_columns(frame))}"
        )
    for path in write_report(frame, Path(args.out), scores, args.seed):
        print(path)
    return 0


def _label_order(label: str) -> tuple:
    """Registry order of the architecture, then its hyperparameter values, numbers as numbers."""
    arch, *parts = label.split(" ")
    position = list(ARCHITECTURES).index(arch) if arch in ARCHITECTURES else len(ARCHITECTURES)
    return (position, *(_as_number(part.partition("=")[2]) for part in parts))


def _as_number(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _number(value: float) -> str:
    return "" if not np.isfinite(value) else f"{value:.2f}"


def _interval(cell: tuple[float, float, float]) -> str:
    median, low, high = cell
    return "" if not np.isfinite(median) else f"{median:.3g} [{low:.3g}, {high:.3g}]"
