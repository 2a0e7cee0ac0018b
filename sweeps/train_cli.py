"""`latentsweep train`: one model, no Ray, into the trial folder of CONTRACT.md."""

from __future__ import annotations

import argparse
import json

import torch
from tqdm import tqdm

from vaemodels.checkpoint import checkpoint_name, prune_checkpoints, write_epoch_checkpoint
from vaemodels.config import TrialConfig
from vaemodels.datasets import load_dataset
from vaemodels.registry import count_parameters
from vaemodels.training import EpochEnd, fit, pick_device
from vaemodels.trial_folder import CHECKPOINT_PREFIX


def train_command(args: argparse.Namespace, overrides: dict) -> int:
    """Train one model with a progress bar; keep the best and the last checkpoints."""
    config = TrialConfig.from_dict(overrides)
    out = args.out.resolve()
    if out.exists() and any(out.glob(f"{CHECKPOINT_PREFIX}*")):
        print(f"latentsweep train: {out} already holds checkpoints; choose another --out")
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    data = load_dataset(config, download=args.download)
    print(f"{config.model.arch} on {config.data.dataset}: {len(data.train_idx):,} train / {len(data.val_idx):,} val")
    bar = tqdm(total=config.train.epochs, unit="epoch", desc="train")

    def checkpoint(event: EpochEnd) -> None:
        write_epoch_checkpoint(out / checkpoint_name(event.state.epoch), event)
        prune_checkpoints(out)
        bar.update(1)
        bar.set_postfix(loss=f"{event.metrics['loss']:.2f}", val_kl=f"{event.metrics['val_kl']:.2f}")

    state = fit(config, data, callbacks=[checkpoint], device=device)
    bar.close()
    best = min(state.history, key=lambda h: h["loss"])
    summary = {key: round(value, 4) for key, value in best.items() if isinstance(value, float)}
    print(f"{count_parameters(state.model):,} parameters; best epoch {best['epoch']}: {json.dumps(summary)}")
    print(f"trial folder: {out}\nexplore it:   latentsweep explore {out}")
    return 0
