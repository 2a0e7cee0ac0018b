"""Fault injection for the sweep tests, kept out of the product: a trainable that wraps `sweeps.trial.run_trial`.

The product only offers what any user may use: `run_sweep(..., trainable=...)` and `run_trial(..., callbacks=...)`.
`FaultyTrial` picks a trial's fault from its seed, so one grid holds healthy and faulty trials side by side.
Ray pickles it to its workers, which import `tests` only when the driver runs in the repository root (Ray adds
the driver's working directory to their path, not its sys.path): `register_with_ray` has it pickled by value.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeps.run import add_sweep_flags, prepare_storage, settings_from_args
from sweeps.space import trial_config
from sweeps.trial import run_trial
from sweeps.tuner import run_sweep
from vaemodels import EpochEnd

RAISE, DIVERGE, KILL_ONCE = "raise", "diverge", "kill-once"
INJECTED = "injected failure"  # what a raising trial's error says


@dataclass(frozen=True)
class FaultyTrial:
    """run_trial, except for the trials whose seed `faults` names: they raise, diverge, or lose their process once."""

    faults: dict[int, str]  # seed -> RAISE, DIVERGE or KILL_ONCE
    marker: Path  # written when a process was killed: the restarted trial then trains on

    def __call__(
        self,
        flat: dict[str, Any],
        threads: int = 1,
        gpus: float = 0.0,
        callbacks: Sequence[Callable[[EpochEnd], None]] = (),
    ) -> None:
        fault = self.faults.get(trial_config(flat).seed)
        if fault == RAISE:
            raise RuntimeError(f"{INJECTED} (tests/helpers/faults.py)")
        if fault == DIVERGE:
            flat = {**flat, "lr": 1e9}  # a real divergence, not a faked one
        if fault == KILL_ONCE:
            callbacks = (*callbacks, self.kill_once)  # after the epoch's report: its checkpoint is saved
        run_trial(flat, threads=threads, gpus=gpus, callbacks=callbacks)

    def kill_once(self, event: EpochEnd) -> None:
        """SIGKILL this worker process the first time only, as a crashed node would."""
        if not self.marker.exists():
            self.marker.write_text(f"killed after epoch {event.state.epoch}")
            os.kill(os.getpid(), signal.SIGKILL)


def register_with_ray() -> Callable[[], None]:
    """Have Ray pickle this module by value (its workers may not import `tests`); returns the undo."""
    from ray import cloudpickle

    module = sys.modules[__name__]
    cloudpickle.register_pickle_by_value(module)
    return lambda: cloudpickle.unregister_pickle_by_value(module)


def sweep_with(trainable: Callable[..., None], argv: Sequence[str]) -> int:
    """`latentsweep sweep ARGV` training with `trainable`: the same flags and storage checks, then run_sweep."""
    parser = argparse.ArgumentParser(prog="latentsweep sweep")
    add_sweep_flags(parser)
    settings, options = settings_from_args(parser.parse_args(list(argv)))
    return run_sweep(settings, options, prepare_storage(settings, options), trainable=trainable)
