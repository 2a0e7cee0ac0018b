"""Cost of the latent-structure metrics on 10,000 codes, against the cheap-metrics budget of 1 s, and of every
disentanglement score at the `quick` and `reference` sample counts against their goals (5 s and 60 s a trial).

Run: .venv/bin/python benchmarks/metrics_speed.py
     .venv/bin/python benchmarks/metrics_speed.py --regressors   # DCI's two regressors on the same codes only
"""

from __future__ import annotations

import itertools
import sys
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


RANK_ROWS = 4_000  # rows a code for the regressor comparison (gradient boosting is the slow one)
ANGLES = (0, 9, 18, 27, 36, 45)  # degrees two factor pairs are mixed by: 0 separate, 45 fully mixed


def mixed_codes(factors: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 10) codes: the 5 standardised factors with pairs (0, 1) and (2, 3) rotated by angle, 5 noise dims."""
    standard = (factors - factors.mean(0)) / factors.std(0)  # (n, 5)
    cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    rotation = np.eye(5)
    for a, b in ((0, 1), (2, 3)):
        rotation[[a, a, b, b], [a, b, a, b]] = cos, -sin, sin, cos
    signal = standard @ rotation + 0.1 * rng.normal(size=standard.shape)
    return np.column_stack([signal, rng.normal(size=(len(factors), 5))])


def discordant(first: list[float], second: list[float]) -> int:
    """Pairs of codes that the two lists order differently (Kendall's discordant pairs)."""
    pairs = itertools.combinations(range(len(first)), 2)
    return sum((first[i] - first[j]) * (second[i] - second[j]) < 0 for i, j in pairs)


def compare_regressors(seeds: tuple[int, ...] = (0, 1, 2)) -> float:
    """DCI with the forest and with gradient boosting on the same codes: differences, ranking swaps, times.

    -> gradient boosting's time over the forest's."""
    seconds = {"random_forest": 0.0, "gradient_boosting": 0.0}
    largest = dict.fromkeys(("dci_disentanglement", "dci_completeness", "dci_informativeness"), 0.0)
    swaps = {"dci_disentanglement": 0, "dci_completeness": 0}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        factors = SyntheticOracle().sample_factors(RANK_ROWS, rng)
        results = {name: [] for name in seconds}
        for angle in ANGLES:
            codes = mixed_codes(factors, angle, rng)
            for name in seconds:
                scores, taken = timed(dci_metrics, codes, factors, regressor=name, seed=seed)
                results[name].append(scores)
                seconds[name] += taken
        for key in largest:
            diffs = [abs(a[key] - b[key]) for a, b in zip(results["random_forest"], results["gradient_boosting"])]
            largest[key] = max(largest[key], max(diffs))
        for key in swaps:
            forest = [r[key] for r in results["random_forest"]]
            boosting = [r[key] for r in results["gradient_boosting"]]
            swaps[key] += discordant(forest, boosting)
            print(f"seed {seed} {key}: forest {np.round(forest, 3)}; boosting {np.round(boosting, 3)}")
    pairs = len(seeds) * len(ANGLES) * (len(ANGLES) - 1) // 2
    codes = len(seeds) * len(ANGLES)
    print(
        f"largest |forest - boosting| over {codes} codes of {RANK_ROWS:,} rows: "
        + ", ".join(f"{key.removeprefix('dci_')} {value:.3f}" for key, value in largest.items())
    )
    print(
        "pairs of codes ranked differently: "
        + ", ".join(f"{key.removeprefix('dci_')} {count} of {pairs}" for key, count in swaps.items())
    )
    print(", ".join(f"{name} {total / codes:.2f} s a code" for name, total in seconds.items()))
    ratio = seconds["gradient_boosting"] / seconds["random_forest"]
    print(f"gradient_boosting / random_forest time ratio: {ratio:.1f}")
    return ratio


def main() -> None:
    if "--regressors" in sys.argv[1:]:
        with threadpool_limits(limits=1):
            compare_regressors()
        return
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
