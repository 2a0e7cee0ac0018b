"""Images/s of `fit()` against a training loop written the common way (DataLoader over a TensorDataset).

Same model, same data, same batch size, in one run. Run:
    .venv/bin/python benchmarks/train_throughput.py [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from vaemodels import TrialConfig, vae_loss
from vaemodels.datasets import load_dataset
from vaemodels.training import fit, new_state


def reference_loop(config: TrialConfig, images: torch.Tensor, labels: torch.Tensor, epochs: int) -> float:
    """The textbook loop: DataLoader(shuffle=True) over CPU tensors; returns images/s."""
    state = new_state(config, torch.device("cpu"))
    loader = DataLoader(TensorDataset(images, labels), batch_size=config.train.batch_size, shuffle=True)
    model, optimizer = state.model, state.optimizer
    model.train()
    seen, started = 0, time.perf_counter()
    for _ in range(epochs):
        for x, y in loader:
            terms = vae_loss(model(x, y), x, y, config)
            optimizer.zero_grad()
            terms.total.backward()
            optimizer.step()
            seen += len(x)
    return seen / (time.perf_counter() - started)


def fit_images_per_second(config: TrialConfig, data) -> float:
    """Training images/s of fit(), from its own `samples_per_second` metric (validation excluded, as above)."""
    history = fit(config, data, device="cpu").history
    return sum(h["samples_per_second"] for h in history) / len(history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ratios = []
    for batch_size in (128, 512):
        config = TrialConfig.from_dict(
            {"arch": "vae", "dataset": "mnist_5k", "latent_dim": 16, "batch_size": batch_size, "epochs": args.epochs}
        )
        data = load_dataset(config)
        train_images, train_labels = data.images[data.train_idx], data.labels[data.train_idx]
        reference = reference_loop(config, train_images, train_labels, args.epochs)
        ours = fit_images_per_second(config, data)
        ratios.append(ours / reference)
        print(
            f"batch {batch_size}: fit {ours:,.0f} img/s, DataLoader loop {reference:,.0f} img/s, ratio {ratios[-1]:.2f}"
        )
    print(f"fit / DataLoader throughput ratio: {min(ratios):.2f} (worst of batch 128, 512)")


if __name__ == "__main__":
    main()
