"""Parallel-coordinates geometry: one vertical axis a column, each scaled to [0, 1] (log for lr and beta and for other
positive columns spanning 20x; categories evenly spaced), and the way back from a brushed span to column values."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

LOG_COLUMNS = ("lr", "beta")
TICKS = 3  # labelled values an axis (bottom, middle, top)


@dataclass(frozen=True)
class Axis:
    """One column's axis: its scale, and for numbers the range in scaled units (log10 when `log`)."""

    column: str
    log: bool = False
    low: float = 0.0
    high: float = 1.0
    categories: tuple[str, ...] | None = None  # a categorical axis: its values bottom to top
    ends: tuple[float, float] | None = None  # the smallest and largest value, exactly (10 ** log10(8) is not 8)

    @property
    def brushable(self) -> bool:
        """Numeric axes filter by a range; categorical ones are filtered in the table's header."""
        return self.categories is None

    @property
    def label(self) -> str:
        """The axis title (says when it is logarithmic)."""
        return f"{self.column} (log)" if self.log else self.column

    def scale(self, values: pd.Series) -> np.ndarray:
        """Values as positions in [0, 1] (NaN where missing)."""
        if self.categories is not None:
            codes = {c: i for i, c in enumerate(self.categories)}
            position = values.map(lambda v: codes.get(str(v)) if _present(v) else None).astype(float)
            return position.to_numpy() / max(len(self.categories) - 1, 1)
        raw = values.astype(float).to_numpy()
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                raw = np.where(raw > 0, np.log10(raw), np.nan)
        span = self.high - self.low
        return (raw - self.low) / span if span > 0 else np.where(np.isnan(raw), np.nan, 0.5)

    def values_between(self, bottom: float, top: float) -> tuple[float, float]:
        """The column values a brushed span of positions covers, clipped to the axis."""
        bottom, top = sorted((min(max(bottom, 0.0), 1.0), min(max(top, 0.0), 1.0)))
        low, high = (self.low + p * (self.high - self.low) for p in (bottom, top))
        low, high = (10**low, 10**high) if self.log else (low, high)
        if self.ends is not None:  # a span reaching an end of the axis keeps the trials at that end
            low, high = (self.ends[0] if bottom <= 0 else low), (self.ends[1] if top >= 1 else high)
        return low, high

    def positions_of(self, low: float, high: float) -> tuple[float, float]:
        """The span of positions a value range covers (the inverse of `values_between`)."""
        ends = [math.log10(v) if self.log and v > 0 else (self.low if self.log else v) for v in (low, high)]
        span = self.high - self.low
        return tuple(min(max((e - self.low) / span, 0.0), 1.0) if span > 0 else 0.5 for e in ends)

    def ticks(self) -> list[tuple[float, str]]:
        """(position, text) for the labelled values of the axis."""
        if self.categories is not None:
            last = max(len(self.categories) - 1, 1)
            return [(i / last, c) for i, c in enumerate(self.categories)]
        positions = np.linspace(0.0, 1.0, TICKS)
        return [(float(p), f"{self.values_between(p, p)[0]:.3g}") for p in positions]


def make_axis(frame: pd.DataFrame, column: str, wide_is_log: bool = True) -> Axis:
    """The axis that fits a column's values; log for lr and beta, and (`wide_is_log`) other positive ranges of 20x."""
    values = frame[column].dropna()
    if values.dtype.kind not in "fiu" or values.dtype.kind == "b":
        return Axis(column, categories=tuple(sorted(values.astype(str).unique())))
    low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    if low > 0 and (column in LOG_COLUMNS or (wide_is_log and high / low >= 20)):
        return Axis(column, log=True, low=math.log10(low), high=math.log10(high), ends=(low, high))
    return Axis(column, low=low, high=high, ends=(low, high))


def positions(frame: pd.DataFrame, axes: list[Axis]) -> np.ndarray:
    """Every trial's position on every axis, (n_trials, n_axes); NaN where a trial has no value."""
    if not axes:
        return np.zeros((len(frame), 0))
    return np.column_stack([axis.scale(frame[axis.column]) for axis in axes])


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))
