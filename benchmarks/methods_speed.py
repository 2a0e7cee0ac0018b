"""Each disentanglement method against the beta-VAE, and disentanglement_lib's training choices against the defaults.

    python benchmarks/methods_speed.py [--epochs 3] [--n-samples 2000] [--device cpu] [--steps 60]

1. Each method on shapes at 32 px: training images/s as a ratio of the beta-VAE's (`vae`), trained in the same run
   on the same data, and the final loss terms.
2. The reference training settings on a dSprites-sized array (737,280 random uint8 images of 64x64, 3 GB: random
   gathers from it are the real cost of i.i.d. batches), with the study's network and batch 64, each pair measured
   in the same run: `sampling: iid` against `epochs`, beta-TCVAE's `mws` against `stratified`, and all of the
   preset's choices (iid, mws, init reference) against the defaults. The last line is that ratio.
"""

from __future__ import annotations

import argparse

import torch

from vaemodels import ARCHITECTURES, DATASETS, Dataset, TrialConfig, fit, load_dataset

METHODS = ("vae", "beta_tcvae", "factor_vae", "dip_vae", "annealed_vae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    parser.add_argument("--steps", type=int, default=60, help="updates a measurement of the reference settings")
    parser.add_argument("--rows", type=int, default=737_280, help="images of the dSprites-sized array")
    parser.add_argument("--rounds", type=int, default=5, help="alternating measurements of each pair (best kept)")
    args = parser.parse_args()
    compare_methods(args)
    compare_reference_settings(args)


def compare_methods(args: argparse.Namespace) -> None:
    speeds = {}
    for arch in METHODS:
        config = TrialConfig.from_dict(
            {"arch": arch, "dataset": "shapes", "image_size": 32, "latent_dim": 10, "epochs": args.epochs,
             "batch_size": args.batch_size, "n_samples": args.n_samples, "embed_samples": 500, "seed": 0}
        )  # fmt: skip
        state = fit(config, load_dataset(config), device=args.device)
        last = state.history[-1]
        speeds[arch] = max(h["samples_per_second"] for h in state.history[1:] or state.history)  # after warm-up
        terms = ", ".join(f"{name} {last[f'val_{name}']:.3g}" for name in ARCHITECTURES[arch].loss_terms)
        ratio = speeds[arch] / speeds["vae"]
        print(
            f"{arch:>13}: {speeds[arch]:7,.0f} img/s ({ratio:.2f} x vae); val recon {last['val_recon']:.1f}, "
            f"kl {last['val_kl']:.2f}, total {last['val_total']:.1f}" + (f"; {terms}" if terms else "")
        )
    slowest = min(speeds, key=speeds.get)
    print(f"slowest method ({slowest}) / beta-VAE training throughput: {speeds[slowest] / speeds['vae']:.2f}")


STUDY = {"dataset": "dsprites", "image_size": 64, "net": "disentanglement_lib", "latent_dim": 10, "batch_size": 64}
PAIRS = {  # label -> (the setting measured, its baseline), each a beta-TCVAE config on the big array
    "sampling iid / epochs": ({"sampling": "iid"}, {"sampling": "epochs"}),
    "tc_estimator mws / stratified": ({"tc_estimator": "mws"}, {"tc_estimator": "stratified"}),
    "reference training settings / defaults": (
        {"sampling": "iid", "tc_estimator": "mws", "init": "reference"},
        {"sampling": "epochs", "tc_estimator": "stratified", "init": "torch"},
    ),
}


def compare_reference_settings(args: argparse.Namespace) -> None:
    """Images/s of each pair in PAIRS, measured alternately (the best of --rounds each) on one shared array."""
    data = dsprites_sized(args.rows)
    print(f"\nreference training settings: beta_tcvae, {args.rows:,} uint8 images of 64x64, {args.steps} updates")
    for label, (setting, baseline) in PAIRS.items():
        rates = {name: 0.0 for name in ("setting", "baseline")}
        for _ in range(args.rounds):  # alternate, so a slow spell of the machine hits both
            for name, keys in (("baseline", baseline), ("setting", setting)):
                config = TrialConfig.from_dict({**STUDY, "arch": "beta_tcvae", "max_steps": args.steps, **keys})
                state = fit(config, data, device=args.device)
                rates[name] = max(rates[name], state.history[-1]["samples_per_second"])
        print(f"  {label}: {rates['setting']:,.0f} / {rates['baseline']:,.0f} img/s = "
              f"{rates['setting'] / rates['baseline']:.3f}")  # fmt: skip


def dsprites_sized(rows: int) -> Dataset:
    """Random uint8 images as a dataset of `rows`: 1,000 validation rows (evaluated after each measurement), the
    rest training rows, as a dSprites file loads."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (rows, 1, 64, 64), dtype=torch.uint8, generator=generator)
    return Dataset(
        spec=DATASETS["dsprites"],
        images=images,
        labels=torch.zeros(rows, dtype=torch.long),
        factors=None,
        sample_ids=torch.arange(rows).numpy(),
        train_idx=torch.arange(1_000, rows),
        val_idx=torch.arange(1_000),
    )


if __name__ == "__main__":
    main()
