"""A printed table as a file: CSV (every digit, for a spreadsheet or pandas) or Markdown (for a report or an issue)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from vaemodels import UserError

TABLE_SUFFIXES = (".csv", ".md")


def check_table_path(path: str | Path, flag: str = "--out") -> Path:
    """The path a table goes to, refused in one line for a suffix other than .csv or .md, a missing folder or a
    folder in its place (checked before any work, so a mistake costs nothing)."""
    path = Path(path).expanduser()
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise UserError(f"{flag} {path}: give a .csv or .md file (the suffix says which)")
    if path.is_dir():
        raise UserError(f"{flag} {path}: a folder; give a .csv or .md file")
    if not path.parent.is_dir():
        raise UserError(f"{flag} {path}: folder {path.parent} does not exist")
    return path


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """`frame` into `path` as its suffix says: CSV, or a Markdown table."""
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        path.write_text(markdown_table(frame))


def markdown_table(frame: pd.DataFrame) -> str:
    """A Markdown table of `frame`: a header, numbers to 4 significant digits, empty cells for missing values."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(_cell(value) for value in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")
