"""The codes a finished trial is scored on: fresh i.i.d. samples of its dataset's oracle through its encoder (the
reference setting, as disentanglement_lib), or its stored validation latents (quick, and any dataset without an
oracle).

disentanglement_lib draws every metric's points from a RandomState(evaluation.random_seed = 0): factors uniform on
the grid, their observations rendered, encoded to posterior means; training points first, test points after. So MIG,
SAP, DCI and modularity/explicitness read the same points there, and one draw a trial serves them all here (drawn
from numpy's Generator, not its RandomState: the same law, other draws).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaemodels.metric_names import CODE_SCORES, SCORE_PROTOCOLS

ENCODE_BATCH = 1_024
MomentsEncoder = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # observations (n, ...) -> mu, logvar (n, d)
_FRESH_NAMES = ("mig", *CODE_SCORES, "dci")  # the scores that read a fresh draw of (code, factor) points


class FreshSampleError(RuntimeError):
    """Fresh samples cannot be drawn for a trial (its dataset's file unreadable here, say); the message says why.
    A checkpoint that cannot be read raises OSError instead (TrialNotFound): the trial's own damage."""


@dataclass(frozen=True)
class CodeSample:
    """Codes and their factors. Fresh: 10,000 training and 5,000 test points at reference. Stored: every kept row
    in `codes`, no test part (each score splits the rows itself, seeded by the trial)."""

    codes: np.ndarray  # (n, d) float posterior means
    factors: np.ndarray  # (n, k) int factor indices
    test_codes: np.ndarray | None = None  # (n_test, d)
    test_factors: np.ndarray | None = None  # (n_test, k)
    source: str = "stored"  # "fresh" or "stored"


def trial_encoder(sweep: Any, row: dict[str, Any]) -> tuple[Any, MomentsEncoder | None]:
    """The dataset's oracle and the trial's encoder of (mu, logvar); (None, None) when either cannot be had: no
    oracle, or an encoder that reads the label too, which an observation alone does not give."""
    import torch

    from vaemodels.checkpoint import load_trial
    from vaemodels.oracles import load_oracle

    trial = load_trial(sweep.join(row["checkpoint_path"]))
    oracle = load_oracle(trial.config)
    if oracle is None or getattr(trial.model, "conditions_encoder", False):
        return None, None

    @torch.no_grad()
    def encode(observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mus, logvars = [], []
        for start in range(0, len(observations), ENCODE_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(observations[start : start + ENCODE_BATCH]))
            mu, logvar = trial.model.encode(batch)  # (B, z) each
            mus.append(mu.float().numpy())
            logvars.append(logvar.float().numpy())
        return np.concatenate(mus), np.concatenate(logvars)

    return oracle, encode


def posterior_means(encode: MomentsEncoder) -> Callable[[np.ndarray], np.ndarray]:
    """The encoder of posterior means alone, (n, ...) -> (n, d): the representation the scores read."""
    return lambda observations: encode(observations)[0]


def fresh_counts(setting: str) -> tuple[int, int]:
    """(training, test) points one fresh draw needs to serve every score of the setting."""
    protocol = SCORE_PROTOCOLS[setting]
    if protocol["codes"] != "fresh":
        raise ValueError(f"score setting {setting!r} reads the stored latents, not fresh samples")
    train = max(protocol[name].get("train_points", protocol[name].get("points", 0)) for name in _FRESH_NAMES)
    return train, max(protocol[name].get("test_points", 0) for name in _FRESH_NAMES)


def draw(oracle: Any, encode: Callable[[np.ndarray], np.ndarray], train: int, test: int, seed: int) -> CodeSample:
    """`train` then `test` fresh points: factors uniform from the oracle, drawn from `seed`, and their codes."""
    from vaemodels.scores import codes_of  # scikit-learn: imported when first needed

    rng = np.random.default_rng(seed)
    train_factors = oracle.sample_factors(train, rng)  # (train, k)
    test_factors = oracle.sample_factors(test, rng)  # (test, k)
    train_codes = codes_of(oracle, encode, train_factors)  # (train, d)
    test_codes = codes_of(oracle, encode, test_factors) if test else train_codes[:0]
    return CodeSample(train_codes, train_factors, test_codes, test_factors, source="fresh")


_LAST: dict[tuple, CodeSample | None] = {}  # the last trial's draw: its DCI and scores are computed one after another


def fresh_sample(sweep: Any, row: dict[str, Any], setting: str) -> CodeSample | None:
    """The setting's fresh draw through the trial's encoder, kept for the next caller about the same checkpoint;
    None when its encoder cannot be fed fresh observations (see trial_encoder)."""
    train, test = fresh_counts(setting)
    checkpoint = sweep.join(row["checkpoint_path"])
    latents = sweep.join(row["latents_path"])  # rewritten with the checkpoint: its time stamps the model
    key = (checkpoint.uri, latents.info().mtime_ns, train, test, SCORE_PROTOCOLS[setting]["seed"])
    if key not in _LAST:
        try:
            oracle, encode = trial_encoder(sweep, row)
            sample = None if oracle is None else draw(oracle, posterior_means(encode), train, test, key[-1])
        except OSError:
            raise
        except Exception as error:
            raise FreshSampleError(f"no fresh samples ({type(error).__name__}: {error})") from error
        _LAST.clear()
        _LAST[key] = sample
    return _LAST[key]
