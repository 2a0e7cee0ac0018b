"""What happens to a trial once it has finished: the whole-trial metrics (DCI), its final summary, and storage
trimmed (optimizer state dropped, only the best checkpoint kept with `keep="best"`).

Ray-free: a sweep runs `finish_trial` as a Ray task on the cluster when a trial ends, `latentsweep metrics` runs
the metric part in-process. Nothing here raises for a damaged trial: the result names the file instead.
"""

from __future__ import annotations

import json
import posixpath
import time
import warnings
from typing import Any

import pyarrow.parquet as pq

from vaemodels import trial_folder as tf
from vaemodels.damage import TrialDamaged
from vaemodels.datasets import DATASETS
from vaemodels.fresh_samples import CodeSample, FreshSampleError, fresh_sample
from vaemodels.metric_names import DCI_KEYS, DCI_REGRESSOR, DCI_SAMPLES, KEEP_POLICIES, SCORE_SETTING, score_protocol
from vaemodels.score_columns import trial_scores
from vaemodels.storage import Location
from vaemodels.trials_table import PATH_COLUMNS

__all__ = ["FreshSampleError", "TrialDamaged", "finish_trial", "trial_dci", "trim_trial"]


def trial_dci(
    sweep: Location, row: dict[str, Any], regressor: str, max_samples: int, setting: str = SCORE_SETTING
) -> dict[str, float] | None:
    """DCI of one trial's best checkpoint (cached in dci.json); None when it has no latents or its dataset no factors.

    At a setting that draws fresh codes (reference) and a dataset with an oracle: trained on the protocol's fresh
    training points and tested on its test points (disentanglement_lib's 10,000 and 5,000); otherwise on at most
    max_samples stored latent rows, split 80/20. dci.json records the protocol and the points each part had.
    Raises TrialDamaged (or OSError) for an unreadable file of the trial, FreshSampleError when fresh samples
    cannot be drawn.
    """
    latents_path = row.get("latents_path")
    spec = DATASETS.get(row.get("dataset"))
    if not isinstance(latents_path, str) or spec is None or not spec.factor_names or max_samples < 0:
        return None
    cache = sweep.join(row["checkpoint_path"], tf.DCI_FILE)
    location = sweep.join(latents_path)
    protocol = score_protocol(setting, spec.has_oracle, regressor, max_samples)["dci"]
    # Keyed by the latents file too: a checkpoint written again (a resumed trial) has new latents.
    key = {"regressor": regressor, "samples": max_samples, "latents_mtime_ns": location.info().mtime_ns}
    key["protocol"] = protocol  # a changed protocol (setting, counts, seed) computes again
    try:
        cached = cache.read_json()
        if all(cached.get(k) == v for k, v in key.items()):
            return {k: cached[k] for k in DCI_KEYS}
    except (OSError, ValueError, KeyError):
        pass  # not computed yet (or a damaged cache): compute it again
    sample = fresh_sample(sweep, row, setting) if protocol["codes"] == "fresh" else None
    if sample is None:  # stored latents (a label-conditioned encoder too: it cannot read fresh observations)
        scores, used = _stored_dci(sweep, row, spec.factor_names, regressor, max_samples)
    else:
        scores, used = _fresh_dci(sample, protocol, regressor)
    cache.write_text(json.dumps({**key, **scores, "used": used}))
    return scores


def _fresh_dci(sample: CodeSample, protocol: dict[str, Any], regressor: str) -> tuple[dict[str, float], dict[str, Any]]:
    """DCI trained on the protocol's first train_points fresh points, tested on its test_points, and what it used."""
    from vaemodels.metrics import dci_train_test  # scikit-learn: imported when first needed

    train_n, test_n = protocol["train_points"], protocol["test_points"]
    train = sample.codes[:train_n], sample.factors[:train_n]  # (train_n, d), (train_n, k)
    test = sample.test_codes[:test_n], sample.test_factors[:test_n]  # (test_n, d), (test_n, k)
    scores = dci_train_test(*train, *test, regressor=regressor, seed=int(protocol["seed"]))
    return scores, {"codes": "fresh", "train_points": len(train[0]), "test_points": len(test[0])}


def _stored_dci(
    sweep: Location, row: dict[str, Any], factor_names: tuple[str, ...], regressor: str, max_samples: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """DCI on at most max_samples stored latent rows (seeded by the trial), and what it used."""
    from vaemodels.metrics import dci_metrics

    location = sweep.join(row["latents_path"])
    mu = [f"mu_{i}" for i in range(int(row["latent_dim"]))]
    try:
        frame = pq.read_table(location.path, columns=mu + list(factor_names), filesystem=sweep.fs).to_pandas()
    except Exception as error:  # a truncated or missing file: this trial's problem only
        raise TrialDamaged(f"{location.uri} cannot be read ({type(error).__name__}: {error})") from error
    codes, factors = frame[mu].to_numpy(), frame[list(factor_names)].to_numpy()
    scores = dci_metrics(codes, factors, regressor, max_samples, int(row["seed"]))
    return scores, {"codes": "stored", "rows": min(len(codes), max_samples) if max_samples else len(codes)}


def finish_trial(
    sweep: Location,
    row: dict[str, Any],
    dci_samples: int = DCI_SAMPLES,
    regressor: str = DCI_REGRESSOR,
    score_setting: str | None = None,
    drop_optimizer: bool = True,
) -> dict[str, Any]:
    """Finish one TERMINATED trial: DCI, the scores (at score_setting; None skips them), the final summary into its
    last checkpoint, that checkpoint's optimizer state dropped (unless `drop_optimizer` is False: a resume's
    finishing, while Tune may restart the trial from it). Returns the row's updated columns (`finalized` True, or
    `problem` naming the file); a score that fails is None and a warning, the rest goes on."""
    started = time.perf_counter()
    updates: dict[str, Any] = {}
    try:
        if dci_samples > 0:
            try:
                updates.update(trial_dci(sweep, row, regressor, dci_samples, score_setting or SCORE_SETTING) or {})
            except FreshSampleError as error:  # DCI stays empty; the scores and the rest go on
                warnings.warn(f"trial {row.get('trial_id')}: DCI {error}", stacklevel=2)
        if score_setting is not None:
            scores, failures = trial_scores(sweep, row, score_setting)
            updates.update(scores)
            for line in failures:
                warnings.warn(f"trial {row.get('trial_id')}: score {line}", stacklevel=2)
        updates["finish_seconds"] = time.perf_counter() - started  # in the summary too: a rebuild restores it
        last = row.get("last_checkpoint_path")
        if isinstance(last, str):
            updates["finalized"] = True
            _write_summary(sweep, last, {**row, **updates})
            # A resume from this checkpoint only reports it again (its summary says finished), so the optimizer
            # state, twice the size of the model, is dead weight. Older checkpoints keep theirs until the sweep
            # ends: Tune's saved state may still point at one of them (see trim_trial).
            for name in tf.OPTIMIZER_FILES if drop_optimizer else ():
                sweep.join(last, name).delete()
    except (TrialDamaged, OSError, ValueError, KeyError) as error:
        updates["problem"] = str(error) if isinstance(error, TrialDamaged) else f"{type(error).__name__}: {error}"
    updates.setdefault("finish_seconds", time.perf_counter() - started)
    return updates


def trim_trial(sweep: Location, row: dict[str, Any], keep: str = "best-and-last") -> dict[str, Any]:
    """Once the sweep's driver has ended (Tune's own state saved), keep only the trial's best and last checkpoints
    (only the best with keep="best"), without optimizer state. Returns the updated columns (`trimmed` True)."""
    if keep not in KEEP_POLICIES:
        raise ValueError(f"keep {keep!r}: choose one of {', '.join(KEEP_POLICIES)}")
    best, last = row.get("checkpoint_path"), row.get("last_checkpoint_path")
    if not isinstance(best, str):
        return {}
    updates: dict[str, Any] = {"trimmed": True}
    if keep == "best" and isinstance(last, str) and last != best:
        updates["last_checkpoint_path"] = best  # its history then stops at the best epoch
    newest = updates.get("last_checkpoint_path", last)
    if isinstance(newest, str):
        _write_summary(sweep, newest, {**row, **updates})  # the newest kept checkpoint is what a rebuild reads
    kept = {best, newest}
    trial_id = row["trial_id"]
    for name in sweep.join(trial_id).list_dirs():
        checkpoint = posixpath.join(trial_id, name)
        if not tf.is_checkpoint_name(name):
            continue
        if checkpoint in kept:
            for optimizer in tf.OPTIMIZER_FILES:
                sweep.join(checkpoint, optimizer).delete()
        else:
            sweep.join(checkpoint).delete()
    return updates


def _write_summary(sweep: Location, checkpoint: str, row: dict[str, Any]) -> None:
    """The row, its paths relative to the trial folder again, as the checkpoint's summary.json."""
    trial_id = row["trial_id"]
    summary = {
        key: posixpath.relpath(value, trial_id) if key in PATH_COLUMNS and isinstance(value, str) else value
        for key, value in row.items()
    }
    summary["schema_version"] = tf.SUMMARY_SCHEMA
    sweep.join(checkpoint, tf.SUMMARY_FILE).write_text(json.dumps(_plain(summary)))


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and value != value:
        return None
    return value
