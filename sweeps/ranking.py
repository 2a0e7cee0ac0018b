"""Ranking trials by a metric: what `best`, `status` and the sweep's summary agree on (pandas only, no torch)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from vaemodels import ARCHITECTURES, BETTER, METRIC_MODES, TRIALS_FILE, UserError, is_missing, metric_mode

SHOWN_KEYS = ("arch", "latent_dim", "beta", "lr")  # then the architecture's own keys


def config_values(row: Any, keys: tuple[str, ...] = SHOWN_KEYS) -> dict[str, Any]:
    """The trial's values of `keys` and of its architecture's own keys, in that order; keys a trial lacks left out."""
    spec = ARCHITECTURES.get(row.get("arch"))
    names = (*keys, *(spec.key_names if spec else ()))
    return {name: row.get(name) for name in names if not is_missing(row.get(name))}


def describe_config(row: Any, keys: tuple[str, ...] = SHOWN_KEYS) -> str:
    """'arch=vae latent_dim=4 beta=2.5 lr=0.001', and the architecture's own keys; keys a trial lacks left out."""
    return " ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in config_values(row, keys).items()
    )


def metric_column(metric: str) -> str:
    """The trials.parquet column a metric ranks by: `best_loss` for `loss`, else the metric's own."""
    return "best_loss" if metric == "loss" else metric


def ranking_mode(metric: str, mode: str | None, flag: str = "--metric") -> str:
    """`mode` when given, else which way the metric is better (METRIC_MODES); a UserError for a metric whose way
    is not known, naming the known ones."""
    if mode is not None:
        return mode
    own = metric_mode(metric)
    if own is None:
        raise UserError(
            f"{flag} {metric}: which way it is better is not known; give --mode min or --mode max "
            f"(known: {', '.join(METRIC_MODES)})"
        )
    return own


def ranking_line(metric: str, mode: str) -> str:
    """'ranked by mig, higher is better': which way a ranking went, and whether --mode turned a metric around."""
    column = metric_column(metric)
    named = metric if column == metric else f"{column} ({metric})"
    own = metric_mode(metric)
    turned = f" (as --mode {mode} asks; for {metric} {BETTER[own]})" if own not in (None, mode) else ""
    return f"ranked by {named}, {BETTER[mode]}{turned}"


def check_column(frame: pd.DataFrame, metric: str) -> None:
    """KeyError naming the numeric columns when the table has no column for `metric`."""
    if metric_column(metric) not in frame.columns:
        known = ", ".join(c for c in frame.columns if frame[c].dtype.kind == "f")
        raise KeyError(f"--metric {metric!r} is not a column of {TRIALS_FILE}; numeric columns: {known}")


def rank(frame: pd.DataFrame, metric: str = "loss", mode: str = "min") -> pd.DataFrame:
    """Finished, undamaged trials ranked by `best_loss` for `loss`, else by the metric's own column."""
    column = metric_column(metric)
    check_column(frame, metric)
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
    column = metric_column(metric)
    return f"no finished, undamaged trial has a finite {column} ({len(frame)} trials: {counts})"


def pareto_front(frame: pd.DataFrame, objectives: list[tuple[str, str]]) -> pd.DataFrame:
    """The finished, undamaged trials no other trial beats on every objective (ties allowed), by the first one.

    `objectives`: (metric, mode) pairs; `loss` ranks by `best_loss`. A trial is dominated when another is at
    least as good on every objective and better on one.
    """
    columns = [metric_column(metric) for metric, _ in objectives]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"--metrics {missing[0]!r} is not a column of {TRIALS_FILE}")
    rows = frame[(frame["status"] == "TERMINATED") & healthy(frame)]
    values = rows[columns].apply(pd.to_numeric, errors="coerce")
    rows, values = rows[values.notna().all(axis=1)], values[values.notna().all(axis=1)]
    signs = [1.0 if mode == "min" else -1.0 for _, mode in objectives]
    scores = values.to_numpy() * signs  # lower is better on every column now
    front = [
        i
        for i, score in enumerate(scores)
        if not any((other <= score).all() and (other < score).any() for other in scores)
    ]
    return rows.iloc[front].sort_values(columns[0], ascending=objectives[0][1] == "min", kind="stable")
