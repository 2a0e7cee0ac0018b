"""UDR over a sweep (Duan et al. 2020): the finished trials that share every config key but `seed` (so their
`data_seed` too, and with it the validation samples) are compared pairwise on their stored best latents.

Each trial gets `udr` (the median of its pairwise scores) and `udr_pairs` (how many pairs it rests on: one with two
seeds). A trial alone in its group has no pair: udr null, udr_pairs 0. No factors are needed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from vaemodels.config import CONFIG_KEYS
from vaemodels.embeddings import logvar_columns, mu_columns
from vaemodels.storage import Location

_NOT_SHARED = ("seed",)  # what the trials of one group differ in


def sweep_udr(sweep: Location, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The table with `udr` and `udr_pairs` filled for every trial, and a line per trial whose latents are damaged."""
    from vaemodels.scores import informative_by_kl, udr

    frame = frame.copy()
    frame["udr"], frame["udr_pairs"] = np.nan, 0
    problems: list[str] = []
    for indices in _groups(frame).values():
        codes, kept = [], []
        for index in indices:
            try:
                codes.append(_codes(sweep, frame.loc[index]))
                kept.append(index)
            except Exception as error:  # a damaged file: this trial is left out of its group, the rest go on
                problems.append(f"{frame.at[index, 'trial_id']}: UDR skipped, {type(error).__name__}: {error}")
        if len(kept) < 2:
            continue
        common = set.intersection(*(set(samples) for samples, _, _ in codes))  # the samples every trial encoded
        order = np.array(sorted(common), dtype=np.int64)
        rows = [pd.Index(samples).get_indexer(order) for samples, _, _ in codes]
        aligned = [mu[at] for (_, mu, _), at in zip(codes, rows)]  # (n, d) each, the same samples in the same order
        # The paper's informative latents (KL > 0.01) where every trial stored its log-variances.
        has_logvar = all(logvar is not None for _, _, logvar in codes)
        informative = (
            [informative_by_kl(mu[at], lv[at]) for (_, mu, lv), at in zip(codes, rows)] if has_logvar else None
        )
        scores, pairs = udr(aligned, informative=informative)
        frame.loc[kept, "udr"] = scores.astype(np.float64)  # nan where a model has no informative dim
        frame.loc[kept, "udr_pairs"] = pairs.astype(np.int64)
    frame["udr_pairs"] = frame["udr_pairs"].astype("int64")
    return frame, problems


def _groups(frame: pd.DataFrame) -> dict[tuple, list[Any]]:
    """Row indices of the finished trials with latents, by every config key but seed."""
    keys = [key for key in CONFIG_KEYS if key in frame.columns and key not in _NOT_SHARED]
    groups: dict[tuple, list[Any]] = {}
    for index, row in frame.iterrows():
        finished = row.get("status") == "TERMINATED" and isinstance(row.get("latents_path"), str)
        if finished and not isinstance(row.get("problem"), str):
            groups.setdefault(tuple(_plain(row[key]) for key in keys), []).append(index)
    return groups


def _plain(value: Any) -> Any:
    """A hashable, comparable form of a cell: every missing value the same."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (list, np.ndarray)):
        return tuple(value)
    return value


def _codes(sweep: Location, row: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(n,) sample ids, (n, d) posterior means and (n, d) log-variances (None when not stored) of a trial's best
    latents."""
    d = int(row["latent_dim"])
    mu, logvar = mu_columns(d), logvar_columns(d)
    location = sweep.join(row["latents_path"])
    present = set(pq.read_schema(location.path, filesystem=sweep.fs).names)
    wanted = ["sample", *mu, *(logvar if set(logvar) <= present else [])]
    frame = pq.read_table(location.path, columns=wanted, filesystem=sweep.fs).to_pandas()
    logvars = frame[logvar].to_numpy(dtype=np.float64) if set(logvar) <= present else None
    return frame["sample"].to_numpy(), frame[mu].to_numpy(dtype=np.float64), logvars
