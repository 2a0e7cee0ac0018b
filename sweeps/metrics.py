"""`latentsweep metrics`: the whole-trial metrics (DCI, the disentanglement scores) and UDR of an existing sweep,
without Ray. It writes trials.parquet, so it holds the sweep folder's lease (vaemodels/lease.py): it refuses while a
driver runs the sweep.

Each trial's DCI is cached as dci.json and its scores as scores.json beside its best latents.parquet, keyed by
their settings; `--only` computes the named ones again. A damaged trial gets a line naming its file; every other
trial is still computed. trials.parquet is replaced whole (a rename on a local disk).
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sweeps.table_files import check_table_path, write_table
from vaemodels import (
    DATASETS,
    DCI_KEYS,
    DCI_REGRESSOR,
    DCI_SAMPLES,
    RECOMPUTABLE,
    SCORE_KEYS,
    SCORE_SETTING,
    SCORE_SETTINGS,
    TRIAL_SCORE_KEYS,
    TRIALS_FILE,
    UDR_KEYS,
    FreshSampleError,
    Lease,
    Location,
    StorageError,
    TrialDamaged,
    checkpoint_problem,
    hold_lease,
    load_or_rebuild,
    resolve,
    score_protocol,
    sweep_udr,
    trial_dci,
    trial_scores,
    write_trials_table,
)


def add_dci(
    sweep: Location,
    frame: pd.DataFrame,
    regressor: str = DCI_REGRESSOR,
    max_samples: int = DCI_SAMPLES,
    trial_ids: list[str] | None = None,
    scores: tuple[str, ...] = (),
    score_setting: str = SCORE_SETTING,
    force: bool = False,
    dci: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """Fill the DCI columns (with `dci`) and the named score columns of the finished trials (all, or the given
    ids); the table and one line a damaged trial or failed score. `force`: scores computed again, cache unread."""
    frame = frame.copy()
    for column in (*DCI_KEYS, *TRIAL_SCORE_KEYS, "problem"):
        if column not in frame.columns:
            frame[column] = float("nan") if column != "problem" else None
    problems = []
    for index, row in frame.iterrows():
        if row["status"] != "TERMINATED" or (trial_ids and row["trial_id"] not in trial_ids):
            continue
        started = time.perf_counter()
        try:
            stored = row["problem"] if isinstance(row["problem"], str) else None
            # Checked again: a mark whose files now read cleanly goes (one without a path to check stays).
            problem = checkpoint_problem(sweep, row) if isinstance(row["checkpoint_path"], str) else stored
            if problem:
                raise TrialDamaged(problem)
            frame.at[index, "problem"] = None
            values = _dci(sweep, row.to_dict(), regressor, max_samples, score_setting, problems) if dci else {}
            if scores:
                computed, failures = trial_scores(sweep, row.to_dict(), score_setting, scores, force)
                values.update(computed)
                problems += [f"score failed for trial {row['trial_id']}: {line}" for line in failures]
        except (TrialDamaged, OSError) as error:
            frame.at[index, "problem"] = str(error)
            problems.append(f"damaged trial {row['trial_id']}: {error}")
            continue
        for column, value in values.items():
            frame.at[index, column] = float("nan") if value is None else value
        if values:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in values.items() if isinstance(v, float))
            print(f"  {row['trial_id']}: {shown} ({time.perf_counter() - started:.1f} s)")
    return frame, problems


def _dci(
    sweep: Location, row: dict[str, Any], regressor: str, max_samples: int, setting: str, problems: list[str]
) -> dict[str, Any]:
    """One trial's DCI columns ({} without factors); a line in problems when no fresh sample could be drawn."""
    try:
        return trial_dci(sweep, row, regressor, max_samples, setting) or {}
    except FreshSampleError as error:  # DCI stays empty; the scores go on
        problems.append(f"score failed for trial {row['trial_id']}: dci: {error}")
        return {}


def protocol_of(frame: pd.DataFrame, setting: str, regressor: str, dci_samples: int) -> dict[str, dict[str, Any]]:
    """score_protocol for the table's dataset; a table of several datasets whose protocols differ for a score records
    that score's by dataset ({"by_dataset": {name: description}})."""
    names = sorted({name for name in frame.get("dataset", pd.Series(dtype=object)) if name in DATASETS})
    described = {name: score_protocol(setting, DATASETS[name].has_oracle, regressor, dci_samples) for name in names}
    described = described or {"": score_protocol(setting, False, regressor, dci_samples)}
    first = next(iter(described.values()))
    return {
        score: first[score] if all(d[score] == first[score] for d in described.values()) else {"by_dataset": by}
        for score, by in ((score, {name: d[score] for name, d in described.items()}) for score in first)
    }


def _record(
    metadata: dict[str, Any], frame: pd.DataFrame, names: tuple[str, ...], setting: str, regressor: str, samples: int
) -> None:
    """Into the table's metadata: the DCI settings, the score setting and what each recomputed score used (the
    others keep what the table said of them)."""
    if "dci" in names:
        metadata.update(dci_regressor=regressor, dci_samples=samples)
    if "dci" in names or any(name in TRIAL_SCORE_KEYS for name in names):
        metadata.update(score_setting=setting, score_counts=SCORE_SETTINGS[setting])
    described = protocol_of(frame, setting, regressor, samples)
    metadata["score_protocol"] = {**metadata.get("score_protocol", {}), **{n: described[n] for n in names}}


def parse_only(text: str | None) -> tuple[str, ...] | None:
    """The names of --only (None: all); ValueError with the valid names for an unknown one."""
    if text is None:
        return None
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in RECOMPUTABLE]
    if unknown or not names:
        raise ValueError(f"--only {text!r}: {', '.join(unknown) or 'no name'}; choose from {', '.join(RECOMPUTABLE)}")
    return names


def metrics_command(args: argparse.Namespace) -> int:
    """`latentsweep metrics`: compute DCI, the scores and UDR for an existing (or running) sweep."""
    try:
        only = parse_only(getattr(args, "only", None))
    except ValueError as error:
        print(f"latentsweep metrics: {error}", file=sys.stderr)
        return 2
    out = check_table_path(args.out) if getattr(args, "out", None) else None  # before any work
    sweep = resolve(args.sweep_dir)
    try:
        if not sweep.exists():
            raise StorageError(f"{sweep.uri} does not exist")
    except (OSError, StorageError) as error:
        print(f"latentsweep metrics: {error}", file=sys.stderr)
        return 2
    with hold_lease(sweep) as lease:  # before the table is read: a driver writing it meanwhile would be overwritten
        return _compute(args, sweep, only, lease, out)


def _compute(
    args: argparse.Namespace, sweep: Location, only: tuple[str, ...] | None, lease: Lease, out: Path | None = None
) -> int:
    """metrics_command once the lease is held."""
    try:
        frame, metadata = load_or_rebuild(
            sweep, warn=lambda message: print(f"warning: {message}", file=sys.stderr), write=True
        )
    except (OSError, StorageError) as error:
        print(f"latentsweep metrics: {error}", file=sys.stderr)
        return 2
    if frame.empty:
        print(f"latentsweep metrics: {sweep.uri} holds no trials (no {TRIALS_FILE}, no trial folders)", file=sys.stderr)
        return 2
    ids = [t for t in (args.trials or "").split(",") if t] or None
    unknown = sorted(set(ids or ()) - set(frame["trial_id"]))
    if unknown:
        print(f"latentsweep metrics: --trials {','.join(unknown)}: no such trial in {sweep.uri}", file=sys.stderr)
        return 2
    names = only or RECOMPUTABLE
    regressor = getattr(args, "regressor", None) or metadata.get("dci_regressor") or DCI_REGRESSOR
    setting = getattr(args, "scores", None) or metadata.get("score_setting") or SCORE_SETTING
    scores = tuple(name for name in names if name in TRIAL_SCORE_KEYS)
    frame, problems = add_dci(
        sweep, frame, regressor, args.dci_samples, ids, scores, setting, force=only is not None, dci="dci" in names
    )
    if "udr" in names:
        frame, udr_problems = sweep_udr(sweep, frame, setting)
        problems += [f"trial {line}" for line in udr_problems]
    _record(metadata, frame, names, setting, regressor, args.dci_samples)
    metadata["versions"] = {**metadata.get("versions", {}), "scikit-learn": importlib_metadata.version("scikit-learn")}
    metadata.pop("schema_version", None)
    lease.check()  # taken with --take-over while the scores ran: the new holder's table stands
    write_trials_table(sweep, frame, metadata)
    columns = ["trial_id", "arch", "beta", "latent_dim", "mig", *DCI_KEYS, *SCORE_KEYS, *UDR_KEYS]
    shown = frame[[c for c in columns if c in frame.columns]]
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(shown.to_string(index=False))
    if out is not None:
        write_table(shown, out)
        print(f"wrote {out}")
    for line in problems:
        print(line, file=sys.stderr)
    return 0
