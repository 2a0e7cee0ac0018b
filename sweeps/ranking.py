"""Ranking trials by a metric: what `best`, `status` and the sweep's summary agree on (pandas only, no torch)."""

from __future__ import annotations

import math

import pandas as pd

from vaemodels import TRIALS_FILE


def rank(frame: pd.DataFrame, metric: str = "loss", mode: str = "min") -> pd.DataFrame:
    """Finished, undamaged trials ranked by `best_loss` for `loss`, else by the metric's own column."""
    column = "best_loss" if metric == "loss" else metric
    if column not in frame.columns:
        known = ", ".join(c for c in frame.columns if frame[c].dtype.kind == "f")
        raise KeyError(f"--metric {metric!r} is not a column of {TRIALS_FILE}; numeric columns: {known}")
    ranked = frame[(frame["status"] == "TERMINATED") & healthy(frame)].copy()
    finite = ranked[column].map(lambda v: isinstance(v, (int, float)) and math.isfinite(v)).astype(bool)
    ranked = ranked[finite]  # a bool mask even when empty (an empty object Series would select columns)
    return ranked.sort_values(column, ascending=(mode == "min"), kind="stable")


def healthy(frame: pd.DataFrame) -> pd.Series:
    """Rows whose files are not known to be damaged (an empty `problem`)."""
    return frame["problem"].isna() if "problem" in frame.columns else pd.Series(True, index=frame.index)


def explain_empty(frame: pd.DataFrame, metric: str) -> str:
    """Why no trial ranks, in a sentence."""
    counts = ", ".join(f"{n} {status}" for status, n in frame["status"].value_counts().items())
    if not (frame["status"] == "TERMINATED").any():
        return f"no trial has finished yet ({len(frame)} trials: {counts})"
    column = "best_loss" if metric == "loss" else metric
    return f"no finished, undamaged trial has a finite {column} ({len(frame)} trials: {counts})"
