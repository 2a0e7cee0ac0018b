"""Cost of the latent-structure metrics on 10,000 codes, against the cheap-metrics budget of 1 s, and of every
disentanglement score at the `quick` and `reference` sample counts against their goals (5 s and 60 s a trial).

Run: .venv/bin/python benchmarks/metrics_speed.py
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

from vaemodels import (
    SCORE_SETTINGS,
    beta_vae_score,
    dci_metrics,
    explicitness,
    factor_vae_score,
    latent_metrics,
    mig,
    modularity,
    sap,
    udr,
)

N = 10_000
BUDGET_SECONDS = 1.0  # the cheap metrics run every time a trial writes latents
GOAL_SECONDS = {"quick": 5.0, "reference": 60.0}  # all scores of one trial, one core
SIZES = (3, 6, 10, 8, 5)
DCI_BY_SETTING = {"quick": "random_forest", "reference": "gradient_boosting"}  # as `latentsweep metrics`


def timed(function, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


class SyntheticOracle:
    """Factors of the sizes above, 'observed' as themselves and encoded by a fixed 5 -> 10 linear map plus noise."""

    factor_sizes = SIZES

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.weights = np.hstack([np.eye(5), 0.1 * self.rng.normal(size=(5, 5))])  # (5, 10)

    def sample_factors(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.column_stack([rng.integers(0, size, n) for size in SIZES])

    def observations(self, factors: np.ndarray) -> np.ndarray:
        return factors.astype(float)

    def encode(self, observations: np.ndarray) -> np.ndarray:
        return observations @ self.weights + 0.05 * self.rng.normal(size=(len(observations), 10))  # (n, 10)


def cheap_metrics(rng: np.random.Generator, factors: np.ndarray) -> None:
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


def scores_at(setting: str, oracle: SyntheticOracle, codes: np.ndarray, factors: np.ndarray, seeds: list) -> float:
    # -> seconds for every score of one trial at this setting; prints each score, its time and the total.
    counts = SCORE_SETTINGS[setting]
    runs = {
        "sap": lambda: sap(codes, factors),
        "modularity": lambda: modularity(codes, factors),
        "explicitness": lambda: explicitness(codes, factors),
        f"dci ({DCI_BY_SETTING[setting]})": lambda: dci_metrics(codes, factors, regressor=DCI_BY_SETTING[setting]),
        "beta_vae": lambda: beta_vae_score(
            oracle, oracle.encode, counts["batch_size"], counts["num_train"], counts["num_eval"]
        ),
        "factor_vae": lambda: factor_vae_score(oracle, oracle.encode, **counts),
        f"udr ({len(seeds)} seeds, per trial)": lambda: udr(seeds)[0][0],
    }
    total = 0.0
    for name, run in runs.items():
        value, seconds = timed(run)
        seconds = seconds / len(seeds) if name.startswith("udr") else seconds  # one UDR run serves every seed
        total += seconds
        shown = value["dci_disentanglement"] if isinstance(value, dict) else value
        print(f"  {setting} {name}: {shown:.3f} in {seconds:.2f} s")
    goal = GOAL_SECONDS[setting]
    print(f"{setting} scores of one trial on {N:,} x 10: {total:.2f} s, goal {goal:.0f} s, ratio {total / goal:.2f}")
    return total / goal


def main() -> None:
    rng = np.random.default_rng(0)
    oracle = SyntheticOracle()
    factors = oracle.sample_factors(N, rng)
    cheap_metrics(rng, factors)
    codes = oracle.encode(oracle.observations(factors))  # (N, 10)
    seeds = [oracle.encode(oracle.observations(factors))[:, rng.permutation(10)] for _ in range(5)]
    with threadpool_limits(limits=1):  # the goals are per core, whatever the machine's BLAS would take
        ratios = [scores_at(setting, oracle, codes, factors, seeds) for setting in GOAL_SECONDS]
    print(f"scores / goal ratio (worst of quick, reference): {max(ratios):.2f}")


if __name__ == "__main__":
    main()
