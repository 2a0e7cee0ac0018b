"""The disentanglement scores of one finished trial (TRIAL_SCORE_KEYS), cached in scores.json beside its best latents.

SAP, modularity and explicitness read codes as the setting's protocol says (SCORE_PROTOCOLS): fresh oracle samples
through the trial's encoder at reference (with MIG on them too), the stored validation latents at quick or for a
dataset without an oracle. The BetaVAE and FactorVAE scores always draw fresh samples. A score the dataset cannot
give (no factors, no oracle, a conditional encoder that needs labels) is None; a score that fails is None too, with
a line saying why, so that one score never takes the others (or the trial's row) with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from vaemodels.damage import TrialDamaged
from vaemodels.dataset_registry import DATASETS, DatasetSpec
from vaemodels.fresh_samples import CodeSample, fresh_sample, posterior_means, trial_encoder
from vaemodels.metric_names import (
    ORACLE_SCORES,
    SCORE_PROTOCOLS,
    SCORE_SETTINGS,
    TRIAL_SCORE_KEYS,
    draws_fresh,
    score_protocol,
)

SCORES_FILE = "scores.json"
# Stored latent rows the code scores read at most (SCORE_PROTOCOLS' stored_rows): the reference's fallback draws
# 10,000 training and 5,000 test rows of them.
CODE_ROWS = {setting: protocol["stored_rows"] for setting, protocol in SCORE_PROTOCOLS.items()}


def trial_scores(
    sweep: Any, row: dict[str, Any], setting: str, names: Sequence[str] = TRIAL_SCORE_KEYS, force: bool = False
) -> tuple[dict[str, float | None], list[str]]:
    """The named scores of one trial's best checkpoint and a line per score that failed or cannot be had; {}
    without latents. `mig` is left out where the codes are the stored ones (training computed it on them).

    Cached in scores.json, keyed by setting, protocol and the latents file; `force` computes them again.
    Raises TrialDamaged when the stored latents it needs cannot be read.
    """
    if setting not in SCORE_SETTINGS:
        raise ValueError(f"score setting {setting!r}: choose one of {', '.join(SCORE_SETTINGS)}")
    spec = DATASETS.get(row.get("dataset"))
    latents_path = row.get("latents_path")
    if spec is None or not spec.factor_names or not isinstance(latents_path, str):
        return {}, []
    fresh = draws_fresh(setting, spec.has_oracle)
    names = [name for name in names if name != "mig" or fresh]
    location = sweep.join(latents_path)
    cache = sweep.join(row["checkpoint_path"], SCORES_FILE)
    protocol = score_protocol(setting, spec.has_oracle)
    key = {
        "setting": setting,
        "latents_mtime_ns": location.info().mtime_ns,
        "protocol": {name: protocol[name] for name in TRIAL_SCORE_KEYS},  # a changed protocol computes again
    }
    cached = {} if force else _read_cache(cache, key)
    scores: dict[str, float | None] = {name: cached[name] for name in names if name in cached}
    wanted = [name for name in names if name not in cached]
    failures = _unavailable(spec, names)
    if wanted:
        computed, lines, source = _compute(sweep, row, spec, setting, wanted, fresh)
        scores.update(computed)
        failures += lines
        kept = {k: v for k, v in {**cached, **scores}.items() if k in TRIAL_SCORE_KEYS}
        codes = source or cached.get("codes")
        cache.write_text(json.dumps({**key, **kept, "codes": codes}))
    return scores, failures


def _unavailable(spec: DatasetSpec, names: Sequence[str]) -> list[str]:
    """One line naming the oracle scores a dataset cannot give, and why (kept on its spec)."""
    missing = [name for name in ORACLE_SCORES if name in names]
    return [f"{', '.join(missing)}: {spec.no_oracle_reason}"] if missing and spec.no_oracle_reason else []


def _compute(sweep: Any, row: dict[str, Any], spec: DatasetSpec, setting: str, wanted: list[str], fresh: bool):
    """-> ({name: value or None}, failure lines, the codes' source or None when no code score was computed)."""
    code_names = [name for name in wanted if name not in ORACLE_SCORES]
    sample: CodeSample | Exception | None = None
    if code_names and fresh:
        try:
            sample = fresh_sample(sweep, row, setting)  # None: a conditional encoder, scored on its stored latents
        except Exception as error:  # a checkpoint that cannot be loaded: these scores fail, the rest go on
            sample = error
    if code_names and sample is None:
        sample = _stored_sample(sweep, row, spec, setting)  # raises TrialDamaged
        wanted = [name for name in wanted if name != "mig"]  # on the stored rows: training's value stands
    scores: dict[str, float | None] = {}
    failures: list[str] = []
    for name in wanted:
        try:
            if isinstance(sample, Exception) and name in code_names:
                raise sample
            scores[name] = _score(name, sweep, row, sample, setting)
        except Exception as error:  # a score's failure is that score's only
            scores[name] = None
            failures.append(f"{name}: {type(error).__name__}: {error}")
    return scores, failures, sample.source if isinstance(sample, CodeSample) else None


def _read_cache(cache: Any, key: dict[str, Any]) -> dict[str, Any]:
    try:
        stored = cache.read_json()
    except (OSError, ValueError):
        return {}  # not computed yet, or a damaged cache: computed again
    if not all(stored.get(k) == v for k, v in key.items()):
        return {}
    return {name: stored[name] for name in (*TRIAL_SCORE_KEYS, "codes") if name in stored}


def _stored_sample(sweep: Any, row: dict[str, Any], spec: DatasetSpec, setting: str) -> CodeSample:
    """At most CODE_ROWS[setting] stored latent rows, drawn without replacement from the trial's seed."""
    location = sweep.join(row["latents_path"])
    mu = [f"mu_{i}" for i in range(int(row["latent_dim"]))]
    try:
        frame = pq.read_table(location.path, columns=mu + list(spec.factor_names), filesystem=sweep.fs)
    except Exception as error:  # a truncated or missing file: this trial's problem only
        raise TrialDamaged(f"{location.uri} cannot be read ({type(error).__name__}: {error})") from error
    frame = frame.to_pandas()
    codes, factors = frame[mu].to_numpy(), frame[list(spec.factor_names)].to_numpy()
    limit = CODE_ROWS[setting]
    if len(codes) > limit:
        keep = np.sort(np.random.default_rng(_trial_seed(row)).choice(len(codes), limit, replace=False))
        codes, factors = codes[keep], factors[keep]
    return CodeSample(codes, factors)


def _trial_seed(row: dict[str, Any]) -> int:
    return int(row.get("seed") or 0)


def _score(name: str, sweep: Any, row: dict[str, Any], sample: CodeSample | None, setting: str) -> float | None:
    from vaemodels import scores
    from vaemodels.metrics import mig

    protocol = SCORE_PROTOCOLS[setting]
    classifier = protocol["classifier"]
    if name not in ORACLE_SCORES:
        if sample is None:
            raise ValueError(f"score {name!r} needs codes")
        # Fresh points come split already (the seed then only seeds the classifiers); stored rows are split by
        # the trial's seed, as they always were.
        seed = protocol["seed"] if sample.source == "fresh" else _trial_seed(row)
        train, test = (sample.codes, sample.factors), (sample.test_codes, sample.test_factors)
        if name == "mig":
            return _finite(mig(*train))
        if name == "sap":
            return _finite(scores.sap(*train, *test, seed=seed))
        if name == "modularity":
            return _finite(scores.modularity(*train))
        if name == "explicitness":
            return _finite(scores.explicitness(*train, *test, seed=seed, classifier=classifier))
        raise ValueError(f"unknown score {name!r}")
    oracle, encode = trial_encoder(sweep, row)
    if oracle is None:
        return None
    seed = protocol["seed"] if isinstance(protocol["seed"], int) else _trial_seed(row)
    counts, means = dict(SCORE_SETTINGS[setting]), posterior_means(encode)
    if name == "beta_vae":
        counts.pop("num_variance_estimate")
        return _finite(scores.beta_vae_score(oracle, means, **counts, seed=seed, classifier=classifier))
    return _finite(scores.factor_vae_score(oracle, means, **counts, seed=seed))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
