"""What a sweep searches for one config key: a set of values, or a range with its distribution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaemodels import LogRange, UserError

DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform")


class SettingsError(UserError, ValueError):
    """A sweep setting with an impossible value; the message names the flag, or the file, line and key."""


@dataclass(frozen=True)
class Choice:
    """A categorical parameter: one of `values` (a grid's axis, or Optuna's suggest_categorical)."""

    values: tuple[Any, ...]

    def suggest(self, trial: Any, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values))

    def to_document(self) -> dict[str, Any]:
        return {"values": list(self.values)}


@dataclass(frozen=True)
class Range:
    """A numeric parameter drawn from [low, high]: uniform, log-uniform, or uniform over the integers."""

    low: float
    high: float
    distribution: str = "uniform"

    def suggest(self, trial: Any, name: str) -> Any:
        if self.distribution == "int_uniform":
            return trial.suggest_int(name, int(self.low), int(self.high))
        return trial.suggest_float(name, self.low, self.high, log=self.distribution == "log_uniform")

    def to_document(self) -> dict[str, Any]:
        return {"min": self.low, "max": self.high, "distribution": self.distribution}

    def problem(self) -> str | None:
        """Why this range cannot be sampled, or None."""
        if not self.low < self.high:
            return f"needs min < max (got {self.low} and {self.high})"
        if self.distribution == "log_uniform" and self.low <= 0:
            return "log_uniform needs 0 < min (min and max are the values themselves, not their logs)"
        if self.distribution == "int_uniform" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            return "int_uniform needs integer min and max"
        return None


Parameter = Choice | Range

# What a sweep searches for the keys every architecture shares, when neither a file nor a flag says otherwise.
# An architecture's own keys bring their ranges from their registry entry (ArchKey.search).
SHARED_SEARCH: dict[str, Parameter] = {
    "beta": Range(0.1, 16.0, "log_uniform"),
    "latent_dim": Choice((2, 4, 8, 16, 32)),
    "lr": Range(1e-4, 3e-3, "log_uniform"),
}


def from_registry(search: LogRange | tuple[Any, ...] | None) -> Parameter | None:
    """An ArchKey's own search range as a parameter (None: the key is not searched unless a file says so)."""
    if isinstance(search, LogRange):
        return Range(search.low, search.high, "log_uniform")
    return Choice(tuple(search)) if search else None
