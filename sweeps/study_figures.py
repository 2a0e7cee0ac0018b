"""The study report's figures (matplotlib, written as PNG files): scores over seeds, and how the scores agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import pyplot as plt

JITTER = 0.08  # the spread of a configuration's points around its box, in box widths


def score_figure(frame: pd.DataFrame, labels: pd.Series, summary: pd.DataFrame, score: str, out: Path) -> Path:
    """Box plot of `score` over seeds, one box a configuration, its trials as points and the median's interval."""
    order = list(summary["configuration"])
    values = [frame.loc[labels == label, score].astype(float).dropna().to_numpy() for label in order]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.55 * len(order) + 2), 4.2), dpi=120)
    positions = np.arange(1, len(order) + 1)
    axes.boxplot(values, positions=positions, widths=0.6, showfliers=False, medianprops={"color": "black"})
    rng = np.random.default_rng(0)
    methods = list(dict.fromkeys(label.split(" ")[0] for label in order))  # one colour a method
    for position, points, label in zip(positions, values, order):
        colour = plt.cm.tab10(methods.index(label.split(" ")[0]) % 10)
        jitter = rng.uniform(-JITTER, JITTER, len(points))
        axes.scatter(position + jitter, points, s=14, alpha=0.75, color=colour, zorder=3)
    medians = np.array([cell[0] for cell in summary[score]])
    lows = np.array([cell[1] for cell in summary[score]])
    highs = np.array([cell[2] for cell in summary[score]])
    axes.errorbar(positions + 0.34, medians, yerr=[medians - lows, highs - medians], fmt="_", color="crimson",
                  capsize=3, label="median, bootstrapped 95% interval")  # fmt: skip
    axes.set_xticks(positions, order, rotation=60, ha="right", fontsize=8)
    axes.set_ylabel(score)
    axes.set_title(f"{score} over seeds, by configuration")
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    path = out / f"{score}.png"
    figure.savefig(path)
    plt.close(figure)
    return path


def correlation_figure(correlation: pd.DataFrame, out: Path) -> Path:
    """The Spearman matrix as a heatmap with its values written in."""
    names = list(correlation.columns)
    figure, axes = plt.subplots(figsize=(1.0 * len(names) + 3, 0.8 * len(names) + 2.5), dpi=120)
    image = axes.imshow(correlation.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    for row, column in np.ndindex(correlation.shape):
        value = correlation.iloc[row, column]
        if np.isfinite(value):
            shade = "white" if abs(value) > 0.6 else "black"  # readable on the dark ends of the colour map
            axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8, color=shade)
    axes.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.set_title("Spearman rank correlation of the scores over trials")
    figure.colorbar(image, ax=axes, shrink=0.8)
    figure.tight_layout()
    path = out / "score_correlation.png"
    figure.savefig(path)
    plt.close(figure)
    return path
