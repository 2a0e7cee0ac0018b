"""The disentanglement scores of one finished trial (SCORE_KEYS), cached in scores.json beside its best latents.

SAP, modularity and explicitness read the stored validation latents and their factors; the BetaVAE and FactorVAE
scores draw fresh samples from the dataset's oracle through the trial's encoder. A score the dataset cannot give
(no factors, no oracle, a conditional encoder that needs labels) is None; a score that fails is None too, with a
line saying why, so that one score never takes the others (or the trial's row) with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from vaemodels.damage import TrialDamaged
from vaemodels.dataset_registry import DATASETS
from vaemodels.metric_names import CODE_SCORES, ORACLE_SCORES, SCORE_KEYS, SCORE_SETTINGS

SCORES_FILE = "scores.json"
# Latent rows the code scores read: the reference draws 10,000 training and 5,000 test samples.
CODE_ROWS = {"reference": 15_000, "quick": 3_000}
_ENCODE_BATCH = 1_024


def trial_scores(
    sweep: Any, row: dict[str, Any], setting: str, names: Sequence[str] = SCORE_KEYS, force: bool = False
) -> tuple[dict[str, float | None], list[str]]:
    """The named scores of one trial's best checkpoint and a line per score that failed; {} without latents.

    Cached in scores.json, keyed by setting and the latents file; `force` computes them again.
    Raises TrialDamaged when the latents cannot be read.
    """
    if setting not in SCORE_SETTINGS:
        raise ValueError(f"score setting {setting!r}: choose one of {', '.join(SCORE_SETTINGS)}")
    spec = DATASETS.get(row.get("dataset"))
    latents_path = row.get("latents_path")
    if spec is None or not spec.factor_names or not isinstance(latents_path, str):
        return {}, []
    location = sweep.join(latents_path)
    cache = sweep.join(row["checkpoint_path"], SCORES_FILE)
    key = {"setting": setting, "latents_mtime_ns": location.info().mtime_ns}
    cached = {} if force else _read_cache(cache, key)
    wanted = [name for name in names if name not in cached]
    scores: dict[str, float | None] = {name: cached[name] for name in names if name in cached}
    failures: list[str] = []
    if wanted:
        mu = [f"mu_{i}" for i in range(int(row["latent_dim"]))]
        try:
            frame = pq.read_table(location.path, columns=mu + list(spec.factor_names), filesystem=sweep.fs)
        except Exception as error:  # a truncated or missing file: this trial's problem only
            raise TrialDamaged(f"{location.uri} cannot be read ({type(error).__name__}: {error})") from error
        frame = frame.to_pandas()
        codes, factors = _rows(frame[mu].to_numpy(), frame[list(spec.factor_names)].to_numpy(), setting, row)
        for name in wanted:
            try:
                scores[name] = _score(name, sweep, row, codes, factors, setting)
            except Exception as error:  # a score's failure is that score's only
                scores[name] = None
                failures.append(f"{name}: {type(error).__name__}: {error}")
        kept = {k: v for k, v in {**cached, **scores}.items() if k in SCORE_KEYS}
        cache.write_text(json.dumps({**key, **kept}))
    return scores, failures


def _read_cache(cache: Any, key: dict[str, Any]) -> dict[str, float | None]:
    try:
        stored = cache.read_json()
    except (OSError, ValueError):
        return {}  # not computed yet, or a damaged cache: computed again
    if not all(stored.get(k) == v for k, v in key.items()):
        return {}
    return {name: stored[name] for name in SCORE_KEYS if name in stored}


def _rows(codes: np.ndarray, factors: np.ndarray, setting: str, row: dict[str, Any]):
    """At most CODE_ROWS[setting] latent rows, drawn without replacement from the trial's seed."""
    limit = CODE_ROWS[setting]
    if len(codes) <= limit:
        return codes, factors
    keep = np.sort(np.random.default_rng(int(row.get("seed") or 0)).choice(len(codes), limit, replace=False))
    return codes[keep], factors[keep]


def _score(name: str, sweep: Any, row: dict[str, Any], codes, factors, setting: str) -> float | None:
    from vaemodels import scores

    seed = int(row.get("seed") or 0)
    if name in CODE_SCORES:
        if name == "sap":
            return _finite(scores.sap(codes, factors, seed=seed))
        if name == "modularity":
            return _finite(scores.modularity(codes, factors))
        return _finite(scores.explicitness(codes, factors, seed=seed))
    if name not in ORACLE_SCORES:
        raise ValueError(f"unknown score {name!r}")
    oracle, encode = _oracle_and_encoder(sweep, row)
    if oracle is None:
        return None
    function = scores.beta_vae_score if name == "beta_vae" else scores.factor_vae_score
    counts = dict(SCORE_SETTINGS[setting])
    if name == "beta_vae":
        counts.pop("num_variance_estimate")
    return _finite(function(oracle, encode, **counts, seed=seed))


def _oracle_and_encoder(sweep: Any, row: dict[str, Any]):
    """The dataset's oracle and the trial's posterior-mean encoder; (None, None) when either cannot be had."""
    import torch

    from vaemodels.checkpoint import load_trial
    from vaemodels.models import ConditionalVAE
    from vaemodels.oracles import load_oracle

    trial = load_trial(sweep.join(row["checkpoint_path"]))
    oracle = load_oracle(trial.config)
    if oracle is None or isinstance(trial.model, ConditionalVAE):
        return None, None  # a conditional encoder reads the label too, which an observation alone does not give

    @torch.no_grad()
    def encode(observations: np.ndarray) -> np.ndarray:
        parts = []
        for start in range(0, len(observations), _ENCODE_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(observations[start : start + _ENCODE_BATCH]))
            parts.append(trial.model.encode(batch)[0].numpy())  # (B, z) posterior means
        return np.concatenate(parts)

    return oracle, encode


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
