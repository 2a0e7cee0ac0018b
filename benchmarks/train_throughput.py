"""Images/s of `fit()` against a training loop written the common way (DataLoader over a TensorDataset).

Same model, data, batch size and validation pass per epoch, in one run; interleaved repeats, best of each.
Both wall-clock and process CPU time are reported: on a shared machine CPU time is the steadier of the two.
Run: .venv/bin/python benchmarks/train_throughput.py [--epochs 2] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import torch
from torch.utils.data import DataLoader, TensorDataset

from vaemodels import TrialConfig, evaluate, fit, load_dataset, new_state, vae_loss


def timed(function) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def reference_loop(config: TrialConfig, data, epochs: int) -> None:
    """The textbook loop: DataLoader(shuffle=True) over CPU tensors, then the same validation pass as fit()."""
    state = new_state(config, torch.device("cpu"))
    train = TensorDataset(data.images[data.train_idx], data.labels[data.train_idx])
    loader = DataLoader(train, batch_size=config.train.batch_size, shuffle=True)
    model, optimizer = state.model, state.optimizer
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            terms = vae_loss(model, model(x, y), x, y)
            optimizer.zero_grad()
            terms.total.backward()
            optimizer.step()
        evaluate(config, model, data, data.val_idx)


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
        images = len(data.train_idx) * args.epochs
        best = {"fit": [float("inf")] * 2, "dataloader": [float("inf")] * 2}
        for _ in range(args.repeats):
            runs = {"dataloader": partial(reference_loop, config, data, args.epochs)}
            runs["fit"] = partial(fit, config, data, device="cpu")
            for name, run in runs.items():
                wall, cpu = timed(run)
                best[name] = [min(best[name][0], wall), min(best[name][1], cpu)]
        (fit_wall, fit_cpu), (ref_wall, ref_cpu) = best["fit"], best["dataloader"]
        ratios.append(ref_cpu / fit_cpu)
        print(
            f"batch {batch_size}: fit {images / fit_wall:,.0f} img/s wall, DataLoader {images / ref_wall:,.0f} img/s "
            f"wall (ratio {ref_wall / fit_wall:.2f}); CPU-time ratio {ratios[-1]:.2f}"
        )
    print(f"fit / DataLoader throughput ratio (CPU time, worst of batch 128 and 512): {min(ratios):.2f}")


if __name__ == "__main__":
    main()
