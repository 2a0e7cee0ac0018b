"""What colour each sample gets: a category a sample (class, factor value or value bin), a colour a category."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from bokeh.palettes import Category10, Category20, Viridis256

MAX_CATEGORIES = 12  # a column with more distinct values is coloured as a continuous value, in bins
VALUE_BINS = 16
SINGLE_COLOUR = "#1f77b4"
NO_LABEL_COLOUR = "#9e9e9e"  # samples without a label (-1) beside named classes, which take every palette colour


@dataclass(frozen=True)
class Colouring:
    """What colour each sample gets: a category code a sample, with a name and a colour a category."""

    column: str  # a latents column, or "none"
    codes: np.ndarray  # (N,) int16 in 0..K-1
    names: tuple[str, ...]
    colors: tuple[str, ...]  # "#rrggbb", one a category
    continuous: bool = False  # categories are equal-width bins of a continuous value


def make_colouring(latents: pd.DataFrame, column: str, value_names: Sequence[str] = ()) -> Colouring:
    """Colour by a column: categories for up to MAX_CATEGORIES integer values, else VALUE_BINS value bins.

    `value_names` names the column's integer values (value v is value_names[v], from the dataset's label_names or
    factor_value_names): the legend shows them, and each value keeps its own colour whichever values a trial holds.
    """
    if column == "none":
        return Colouring("none", np.zeros(len(latents), np.int16), ("all samples",), (SINGLE_COLOUR,))
    if column not in latents.columns:
        raise KeyError(f"cannot colour by {column!r}: the latents table has no such column")
    values = latents[column].to_numpy()
    unique = np.unique(values)
    named = 0 < len(value_names) <= len(Category20[20]) and np.all(np.isin(unique, np.arange(-1, len(value_names))))
    if named or (len(unique) <= MAX_CATEGORIES and np.all(np.mod(unique, 1) == 0)):
        codes = np.searchsorted(unique, values).astype(np.int16)
        return Colouring(column, codes, *_category_names_and_colours(column, unique, value_names if named else ()))
    lo, hi = (float(unique[0]), float(unique[-1])) if len(unique) else (0.0, 1.0)
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, VALUE_BINS + 1)
    codes = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, VALUE_BINS - 1).astype(np.int16)
    names = tuple(f"{edges[b]:.3g}–{edges[b + 1]:.3g}" for b in range(VALUE_BINS))
    colors = tuple(Viridis256[round(b * 255 / (VALUE_BINS - 1))] for b in range(VALUE_BINS))
    return Colouring(column, codes, names, colors, continuous=True)


def _category_names_and_colours(
    column: str, unique: np.ndarray, value_names: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A legend name and a colour for each of a column's sorted integer values; named values take their value's
    colour (value v: palette[v]), so that a class looks the same in every trial, present or not beside it."""
    count = len(value_names) or len(unique)
    palette = Category10[10] if count <= 10 else Category20[20]
    names = tuple("none" if column == "label" and v < 0 else _value_name(int(v), value_names) for v in unique)
    if len(set(names)) < len(names):  # two values of one name: each legend entry must still be its own
        names = tuple(f"{name} ({int(v)})" for name, v in zip(names, unique, strict=True))
    if not value_names:
        return names, tuple(palette[: len(unique)])
    return names, tuple(NO_LABEL_COLOUR if v < 0 else palette[int(v)] for v in unique)


def _value_name(value: int, value_names: Sequence[str]) -> str:
    """The value's name, or the value itself where it has none."""
    return value_names[value] if 0 <= value < len(value_names) and value_names[value] else str(value)
