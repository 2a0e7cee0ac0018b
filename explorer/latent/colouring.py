"""What colour each sample gets: a category a sample (class, factor value or value bin), a colour a category."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bokeh.palettes import Category10, Category20, Viridis256

MAX_CATEGORIES = 12  # a column with more distinct values is coloured as a continuous value, in bins
VALUE_BINS = 16
SINGLE_COLOUR = "#1f77b4"


@dataclass(frozen=True)
class Colouring:
    """What colour each sample gets: a category code a sample, with a name and a colour a category."""

    column: str  # a latents column, or "none"
    codes: np.ndarray  # (N,) int16 in 0..K-1
    names: tuple[str, ...]
    colors: tuple[str, ...]  # "#rrggbb", one a category
    continuous: bool = False  # categories are equal-width bins of a continuous value


def make_colouring(latents: pd.DataFrame, column: str) -> Colouring:
    """Colour by a column: categories for up to MAX_CATEGORIES integer values, else VALUE_BINS value bins."""
    if column == "none":
        return Colouring("none", np.zeros(len(latents), np.int16), ("all samples",), (SINGLE_COLOUR,))
    if column not in latents.columns:
        raise KeyError(f"cannot colour by {column!r}: the latents table has no such column")
    values = latents[column].to_numpy()
    unique = np.unique(values)
    if len(unique) <= MAX_CATEGORIES and np.all(np.mod(unique, 1) == 0):
        codes = np.searchsorted(unique, values).astype(np.int16)
        palette = Category10[10] if len(unique) <= 10 else Category20[20]
        names = tuple("none" if column == "label" and v < 0 else str(int(v)) for v in unique)
        return Colouring(column, codes, names, tuple(palette[: len(unique)]))
    lo, hi = (float(unique[0]), float(unique[-1])) if len(unique) else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, VALUE_BINS + 1)
    codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, VALUE_BINS - 1).astype(np.int16)
    names = tuple(f"{edges[b]:.3g}–{edges[b + 1]:.3g}" for b in range(VALUE_BINS))
    colors = tuple(Viridis256[round(b * 255 / (VALUE_BINS - 1))] for b in range(VALUE_BINS))
    return Colouring(column, codes, names, colors, continuous=True)
