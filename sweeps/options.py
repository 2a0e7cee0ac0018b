"""RunOptions: how and where a sweep runs. Unlike SweepSettings these may change between a run and its resume."""

from __future__ import annotations

from dataclasses import dataclass

from vaemodels import DCI_SAMPLES


@dataclass(frozen=True)
class RunOptions:
    """How and where a sweep runs (the flags of `latentsweep sweep` that are not SweepSettings)."""

    storage: str = "results"
    address: str | None = None  # None: RAY_ADDRESS when set, else a fresh local Ray
    max_concurrent: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 0
    fresh: bool = False
    take_over: bool = False  # take the sweep folder's lease from a driver the user knows is dead
    verbose: int = 0  # Tune's own reporter (its boxes): 1 with --verbose; the console of sweeps/console.py otherwise
    dci_samples: int = DCI_SAMPLES  # latent rows a trial for DCI, computed as each trial finishes; 0 skips DCI
    mlflow: str | None = None  # an MLflow tracking URI: one run a trial (sweeps/tracking.py)
    keep: str = "best-and-last"  # checkpoints a finished trial keeps (its optimizer state is dropped either way)
    allow_version_change: bool = False  # resume under another minor version of ray or optuna (sweeps/versions.py)
