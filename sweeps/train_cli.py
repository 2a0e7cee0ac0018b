"""`latentsweep train` (one model, no Ray, into a trial folder) and `latentsweep models`."""

from __future__ import annotations

import argparse
import json

import torch
from tqdm import tqdm

from vaemodels import (
    ARCHITECTURES,
    CHECKPOINT_PREFIX,
    EpochEnd,
    TrialConfig,
    UserError,
    checkpoint_name,
    config_overrides,
    count_parameters,
    create_model,
    fit,
    load_dataset,
    pick_device,
    prune_checkpoints,
    write_epoch_checkpoint,
)


def train_command(args: argparse.Namespace) -> int:
    """Train one model with a progress bar; keep the best and the last checkpoints."""
    config = TrialConfig.from_dict(config_overrides(args))
    out = args.out.resolve()
    if out.exists() and any(out.glob(f"{CHECKPOINT_PREFIX}*")):
        raise UserError(f"--out {out} already holds checkpoints; choose another folder")
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


def models_command(args: argparse.Namespace) -> int:
    """Every registered architecture: what it is, its own keys, and its size on each network and image size."""
    for arch, spec in ARCHITECTURES.items():
        keys = ", ".join(f"{key.name}={key.default}" for key in spec.keys) or "no keys of its own"
        print(f"{arch}: {spec.summary} ({keys})")
        for net, dataset in (("conv", "mnist_5k"), ("conv", "shapes"), ("original", "mnist_5k")):
            config = TrialConfig.from_dict({"arch": arch, "net": net, "dataset": dataset})
            size = config.data.image_size
            print(f"  {net:9s} {size}x{size}  {count_parameters(create_model(config)):>10,d} parameters")
    return 0
