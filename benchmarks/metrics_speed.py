"""Cost of the latent-structure metrics on 10,000 codes, against the cheap-metrics budget of 1 s.

Run: .venv/bin/python benchmarks/metrics_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from vaemodels import dci_metrics, latent_metrics, mig

N = 10_000
BUDGET_SECONDS = 1.0  # the cheap metrics run every time a trial writes latents


def timed(function, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    rng = np.random.default_rng(0)
    factors = np.column_stack([rng.integers(0, k, N) for k in (3, 6, 10, 8, 5)])
    aligned = factors + 1e-3 * rng.normal(size=factors.shape)
    cases = {
        "aligned+noise 10d": np.column_stack([aligned, rng.normal(size=(N, 5))]),
        "noise 10d": rng.normal(size=(N, 10)),
    }
    for name, codes in cases.items():
        mig_value, mig_seconds = timed(mig, codes, factors)
        scores, dci_seconds = timed(dci_metrics, codes, factors)
        rounded = {key: round(value, 3) for key, value in scores.items()}
        print(f"{name}: mig {mig_value:.3f} in {mig_seconds:.2f} s; dci {rounded} in {dci_seconds:.2f} s")
    mu = rng.normal(size=(N, 32)).astype(np.float32)
    _, cheap_seconds = timed(latent_metrics, mu, labels=factors[:, 0], factors=factors)
    print(f"latent_metrics (active units, probe, MIG, TC) on {N:,} x 32: {cheap_seconds:.2f} s")
    print(f"cheap metrics / budget ratio: {cheap_seconds / BUDGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
