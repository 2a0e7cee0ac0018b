"""UDR over a sweep (Duan et al. 2020): the finished trials that share every config key but `seed` (so their
`data_seed` too, and with it the validation samples) are compared pairwise on codes of the same samples.

Which codes and which similarity the setting's protocol says (SCORE_PROTOCOLS["udr"]): at reference, for a dataset
with an oracle, one shared draw of fresh samples (disentanglement_lib's udr_sklearn: 1,000 points from seed 0) that
every trial's best checkpoint encodes (posterior means, and the log-variances for the KL > 0.01 rule), compared by
Lasso; otherwise the stored best latents, by Lasso at reference and by |Spearman| at quick.

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
from vaemodels.dataset_registry import DATASETS
from vaemodels.embeddings import logvar_columns, mu_columns
from vaemodels.metric_names import SCORE_PROTOCOLS, SCORE_SETTING, draws_fresh
from vaemodels.storage import Location

_NOT_SHARED = ("seed",)  # what the trials of one group differ in


def sweep_udr(sweep: Location, frame: pd.DataFrame, setting: str = SCORE_SETTING) -> tuple[pd.DataFrame, list[str]]:
    """The table with `udr` and `udr_pairs` filled for every trial, and a line per trial left out (a damaged file,
    or a fresh sample its checkpoint could not encode)."""
    from vaemodels.udr_scores import udr

    if setting not in SCORE_PROTOCOLS:
        raise ValueError(f"score setting {setting!r}: choose one of {', '.join(SCORE_PROTOCOLS)}")
    correlation = SCORE_PROTOCOLS[setting]["udr"]["correlation"]
    frame = frame.copy()
    frame["udr"], frame["udr_pairs"] = np.nan, 0
    problems: list[str] = []
    for indices in _groups(frame).values():
        spec = DATASETS.get(frame.at[indices[0], "dataset"]) if "dataset" in frame.columns else None
        fresh = spec is not None and draws_fresh(setting, spec.has_oracle)
        found = _fresh_codes(sweep, frame, indices, setting, problems) if fresh else None
        kept, aligned, informative = found or _stored_codes(sweep, frame, indices, problems)
        if len(kept) < 2:
            continue
        scores, pairs = udr(aligned, informative=informative, correlation=correlation)
        frame.loc[kept, "udr"] = scores.astype(np.float64)  # nan where a model has no informative dim
        frame.loc[kept, "udr_pairs"] = pairs.astype(np.int64)
    frame["udr_pairs"] = frame["udr_pairs"].astype("int64")
    return frame, problems


def _stored_codes(sweep: Location, frame: pd.DataFrame, indices: list[Any], problems: list[str]):
    """(kept row indices, their (n, d) posterior means of the n samples all of them stored, their informative masks
    by KL where every one stored log-variances, else None)."""
    from vaemodels.udr_scores import informative_by_kl

    codes, kept = [], []
    for index in indices:
        try:
            codes.append(_codes(sweep, frame.loc[index]))
            kept.append(index)
        except Exception as error:  # a damaged file: this trial is left out of its group, the rest go on
            problems.append(f"{frame.at[index, 'trial_id']}: UDR skipped, {type(error).__name__}: {error}")
    if len(kept) < 2:
        return kept, [], None
    common = set.intersection(*(set(samples) for samples, _, _ in codes))  # the samples every trial encoded
    order = np.array(sorted(common), dtype=np.int64)
    rows = [pd.Index(samples).get_indexer(order) for samples, _, _ in codes]
    aligned = [mu[at] for (_, mu, _), at in zip(codes, rows)]  # (n, d) each, the same samples in the same order
    # The paper's informative latents (KL > 0.01) where every trial stored its log-variances.
    has_logvar = all(logvar is not None for _, _, logvar in codes)
    informative = [informative_by_kl(mu[at], lv[at]) for (_, mu, lv), at in zip(codes, rows)] if has_logvar else None
    return kept, aligned, informative


def _fresh_codes(sweep: Location, frame: pd.DataFrame, indices: list[Any], setting: str, problems: list[str]):
    """(kept row indices, their posterior means (n, d) of one shared fresh draw, their KL > 0.01 masks), or None
    when the group's encoder reads labels too (a conditional one: the stored latents stand in)."""
    from vaemodels.fresh_samples import trial_encoder
    from vaemodels.udr_scores import informative_by_kl

    protocol = SCORE_PROTOCOLS[setting]
    observations = None  # (points, C, H, W), drawn once for the group: every seed encodes the same images
    kept, means, informative = [], [], []
    for index in indices:
        try:
            oracle, encode = trial_encoder(sweep, frame.loc[index].to_dict())
            if oracle is None:
                return None
            if observations is None:
                rng = np.random.default_rng(protocol["seed"])  # the library's evaluation.random_seed
                observations = oracle.observations(oracle.sample_factors(protocol["udr"]["points"], rng))
            mu, logvar = encode(observations)  # (points, d) each
        except Exception as error:  # an unreadable checkpoint or dataset file: this trial is left out
            problems.append(f"{frame.at[index, 'trial_id']}: UDR skipped, {type(error).__name__}: {error}")
            continue
        kept.append(index)
        means.append(mu.astype(np.float64))
        informative.append(informative_by_kl(mu, logvar))
    return kept, means, informative


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
