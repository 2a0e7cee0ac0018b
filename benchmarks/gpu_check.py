"""The GPU path of the training loop: bf16 autocast against fp32, and checkpoints that move between CUDA and CPU.

Run on a machine with CUDA: python benchmarks/gpu_check.py [--epochs 3]. Needs no Ray. Prints bf16 and fp32
throughput and losses, checks a CUDA checkpoint resumes on CUDA and reloads on CPU with the same encodings, trains
each disentanglement method for a few hundred steps on CUDA (FactorVAE's two optimisers included) and resumes and
reloads each the same way, and ends with the bf16 / fp32 throughput ratio.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import torch

from vaemodels import (
    ARCHITECTURES,
    TrialConfig,
    checkpoint_name,
    encode,
    fit,
    list_checkpoints,
    load_dataset,
    load_trial,
    mu_columns,
    restore_state,
    write_epoch_checkpoint,
)


def train(precision: str, epochs: int, folder: Path | None = None, batch_size: int = 256):
    config = TrialConfig.from_dict(
        {"arch": "branched", "dataset": "shapes", "image_size": 64, "latent_dim": 10, "epochs": epochs,
         "batch_size": batch_size, "precision": precision, "embed_samples": 2000}
    )  # fmt: skip
    data = load_dataset(config)
    callbacks = []
    if folder is not None:
        callbacks.append(lambda event: write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event))
    state = fit(config, data, callbacks=callbacks, device="cuda")
    return config, data, state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=400, help="optimiser steps each disentanglement method trains")
    args = parser.parse_args()
    assert torch.cuda.is_available(), "this check needs CUDA"
    print(f"device {torch.cuda.get_device_name()}, torch {torch.__version__}")
    speeds = {}
    for precision in ("fp32", "bf16"):
        _, _, state = train(precision, args.epochs, batch_size=args.batch_size)
        last = state.history[-1]
        speeds[precision] = max(h["samples_per_second"] for h in state.history[1:] or state.history)
        accuracy = last["val_accuracy"]
        print(f"{precision}: {speeds[precision]:,.0f} img/s, val loss {last['loss']:.2f}, val accuracy {accuracy:.3f}")
        assert math.isfinite(last["loss"]), precision

    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        config, data, state = train("bf16", 2, folder)
        restored_config, restored = restore_state(list_checkpoints(folder)[-1], "cuda")
        resumed = fit(restored_config.replace(epochs=3), data, state=restored)
        assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
        assert next(resumed.model.parameters()).is_cuda
        print(f"resumed on CUDA from epoch 2: epoch 3 val loss {resumed.history[-1]['loss']:.2f}")
        on_cpu = load_trial(folder)  # weights saved from CUDA, loaded on CPU
        stored = on_cpu.latents()
        fresh = encode(on_cpu.model, data.to("cpu"))
        columns = mu_columns(config.model.latent_dim)
        gap = float((torch.tensor(fresh[columns].to_numpy()) - torch.tensor(stored[columns].to_numpy())).abs().max())
        print(f"CUDA-trained checkpoint re-encoded on CPU: max |mu difference| {gap:.2e}")
        assert gap < 1e-3  # encode() runs in fp32 on both devices: only kernel differences remain
    for arch in METHODS:
        check_method(arch, args.steps)
    print(f"bf16 / fp32 training throughput ratio: {speeds['bf16'] / speeds['fp32']:.2f}")


METHODS = ("beta_tcvae", "factor_vae", "dip_vae", "annealed_vae")


def check_method(arch: str, steps: int) -> None:
    """`steps` steps on CUDA with the study's net, a checkpoint half-way resumed on CUDA, and reloaded on CPU."""
    config = TrialConfig.from_dict(
        {"arch": arch, "dataset": "shapes", "image_size": 64, "net": "disentanglement_lib", "latent_dim": 10,
         "batch_size": 64, "lr": 1e-4, "max_steps": steps // 2, "n_samples": 8000, "embed_samples": 1000}
    )  # fmt: skip
    data = load_dataset(config)
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        save = [lambda event: write_epoch_checkpoint(folder / checkpoint_name(event.state.epoch), event)]
        half = fit(config, data, callbacks=save, device="cuda")
        restored_config, restored = restore_state(list_checkpoints(folder)[-1], "cuda")
        assert restored.steps == half.steps and (restored.auxiliary is not None) == (arch == "factor_vae")
        done = fit(restored_config.replace(max_steps=steps), data, state=restored)
        last = done.history[-1]
        assert done.steps == steps and math.isfinite(last["loss"]) and next(done.model.parameters()).is_cuda
        on_cpu = load_trial(folder)
        assert not next(on_cpu.model.parameters()).is_cuda
        terms = ", ".join(f"{name} {last[f'val_{name}']:.3g}" for name in ARCHITECTURES[arch].loss_terms)
        print(f"{arch}: {steps} steps on CUDA, resumed at {half.steps}; val loss {last['loss']:.1f}; {terms}")


if __name__ == "__main__":
    main()
