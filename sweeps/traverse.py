"""`latentsweep traverse SWEEP TRIAL --out FILE`: a trial's labelled latent traversal grid as a PNG, or one
dimension's sweep as an animated GIF, without a browser (the explorer's Traversal grid tab draws the same picture).

Rows are latent dimensions (`--dims`, default the most active by KL), each swept in `--steps` even steps across its
`--range` from the start point: the origin, or with `--row N` the posterior mean of the latents' row N.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from sweeps.best import load_table
from sweeps.ranking import explain_empty, rank
from vaemodels import (
    GridLabels,
    LoadedTrial,
    Location,
    TrialNotFound,
    UserError,
    dimension_kl,
    export_scale,
    labelled_grid,
    latent_traversal,
    load_trial,
    order_by_kl,
    resolve,
    row_name,
    start_text,
    sweep_gif,
    traversal_title,
    traversal_values,
)

DEFAULT_ROWS = 8  # rows of a PNG without --dims: the most active dimensions, as many as the explorer shows first
FORMATS = (".png", ".gif")


def traverse_command(args: argparse.Namespace) -> int:
    """Write the traversal picture of one trial of a sweep."""
    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"--out {out}: give a .png file (the grid) or a .gif file (one dimension's sweep)")
    if args.steps < 2:
        raise UserError(f"--steps {args.steps}: a sweep needs 2 or more steps")
    sweep = resolve(args.sweep_dir)
    row = trial_row(load_table(sweep), args.trial, sweep)
    trial = _load(sweep, row)
    latents = trial.latents() if trial.latents_path is not None else None
    if latents is None or latents.empty:
        raise UserError(f"trial {row['trial_id']} has no latents in {trial.checkpoint_location.uri}")
    gif = out.suffix.lower() == ".gif"
    kl = dimension_kl(latents, trial.history, trial.config.model.latent_dim)
    dims = chosen_dims(args.dims, kl, 1 if gif else DEFAULT_ROWS, gif)
    sample = _start_sample(args, trial, latents)
    images, ranges, label = latent_traversal(trial.model, latents, dims, args.steps, args.range, args.row, args.label)
    start = start_text(args.row, sample, label if trial.model.conditions_decoder else None)
    title = traversal_title(sweep.name, row["trial_id"], start, args.range)
    labels = GridLabels(tuple(row_name(d, kl[d]) for d in dims), traversal_values(ranges, args.steps), title)
    scale = export_scale(trial.config.data.image_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    if gif:
        out.write_bytes(sweep_gif(images, f"z{dims[0]}", labels.values[0], scale, title))
    else:
        Image.fromarray(labelled_grid(images, labels, scale)).save(out, format="PNG")
    what = f"z{dims[0]}'s sweep" if gif else f"{len(dims)} x {args.steps} grid of z{', z'.join(map(str, dims))}"
    print(f"wrote {out}: trial {row['trial_id']}, {what}")
    return 0


def trial_row(frame: pd.DataFrame, trial: str, sweep: Location) -> pd.Series:
    """The table's row of a trial id, or of the best trial by loss for `best`; a missing one is named."""
    if trial == "best":
        ranked = rank(frame)
        if ranked.empty:
            raise UserError(explain_empty(frame, "loss"))
        return ranked.iloc[0]
    matches = frame[frame["trial_id"] == trial]
    if matches.empty:
        ids = ", ".join(map(str, frame["trial_id"].head(5)))
        raise UserError(f"TRIAL {trial!r}: {sweep.uri} has no such trial (it has {ids}{', ...' * (len(frame) > 5)})")
    return matches.iloc[0]


def chosen_dims(dims: tuple[int, ...] | None, kl: np.ndarray, default_count: int, gif: bool) -> tuple[int, ...]:
    """--dims checked against the trial's latent size, or the `default_count` most active by KL."""
    if not dims:
        return tuple(order_by_kl(kl)[:default_count])
    wrong = [d for d in dims if not 0 <= d < len(kl)]
    if wrong:
        raise UserError(f"--dims {wrong[0]}: the trial has latent dimensions 0 to {len(kl) - 1}")
    if gif and len(dims) != 1:
        raise UserError(f"--dims {','.join(map(str, dims))}: a GIF animates one dimension; give one, e.g. --dims 0")
    return dims


def _start_sample(args: argparse.Namespace, trial: LoadedTrial, latents: pd.DataFrame) -> int | None:
    """The sample id of the start row (None at the origin), after checking --row and --label."""
    if args.row is not None and not 0 <= args.row < len(latents):
        raise UserError(f"--row {args.row}: the trial's latents have rows 0 to {len(latents) - 1}")
    classes = trial.config.num_classes
    if args.label is not None and not 0 <= args.label < classes:
        raise UserError(f"--label {args.label}: the dataset has classes 0 to {classes - 1}")
    return None if args.row is None else int(latents["sample"].iloc[args.row])


def _load(sweep: Location, row: pd.Series) -> LoadedTrial:
    checkpoint = row.get("checkpoint_path")
    if not isinstance(checkpoint, str) or not checkpoint:
        raise UserError(f"trial {row['trial_id']} has no checkpoint recorded yet")
    try:
        return load_trial(sweep.join(checkpoint))
    except (TrialNotFound, ValueError) as error:
        raise UserError(f"trial {row['trial_id']}: its checkpoint does not load: {error}") from None
