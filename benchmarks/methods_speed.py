"""Each disentanglement method against the beta-VAE: training images/s and the final loss terms, shapes at 32 px.

    python benchmarks/methods_speed.py [--epochs 3] [--n-samples 2000] [--device cpu]

The beta-VAE (`vae`) is the baseline, trained in the same run on the same data; each method's line gives its
images/s as a ratio of the baseline's. The last line is the slowest method's ratio.
"""

from __future__ import annotations

import argparse

from vaemodels import ARCHITECTURES, TrialConfig, fit, load_dataset

METHODS = ("vae", "beta_tcvae", "factor_vae", "dip_vae", "annealed_vae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
