"""The plain PyTorch training loop: no Ray, usable from a test, a notebook, the CLI or a Tune trial."""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from vaemodels.architectures import ARCHITECTURES
from vaemodels.config import TrialConfig
from vaemodels.datasets import Dataset
from vaemodels.losses import LossContext, LossTerms
from vaemodels.models import VAE, create_model

EVAL_BATCH = 1024
PLATEAU_PATIENCE = 4  # epochs compared by the original's plateau rule
PLATEAU_MIN_CHANGE = 1e-3  # relative change below which the loss counts as flat
PLATEAU_FACTOR = 0.2
PLATEAU_MAX_REDUCTIONS = 10
IID_STREAM = 104_729  # offsets the iid sampler's seed from the initialisation's and the epochs' shuffles


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite."""

    def __init__(self, epoch: int, term: str, value: float) -> None:
        super().__init__(f"training diverged at epoch {epoch}: {term} = {value}")
        self.epoch, self.term, self.value = epoch, term, value


@dataclass
class TrainState:
    """Everything needed to continue training: the model, its optimizers and the history so far."""

    model: VAE
    optimizer: torch.optim.Optimizer
    history: list[dict[str, Any]] = field(default_factory=list)
    lr_reductions: int = 0
    auxiliary: torch.optim.Optimizer | None = None  # the model's second optimiser (VAE.auxiliary_optimizer)
    steps: int = 0  # updates so far (training iterations): AnnealedVAE's capacity schedule and the step budget
    sampler: torch.Generator | None = None  # sampling=iid: draws every batch; its state travels in the checkpoint

    @property
    def epoch(self) -> int:
        return len(self.history)

    @property
    def best_loss(self) -> float:
        return min((h["loss"] for h in self.history), default=math.inf)


@dataclass(frozen=True)
class EpochEnd:
    """What a callback sees after each epoch."""

    config: TrialConfig
    state: TrainState
    metrics: dict[str, Any]
    data: Dataset
    is_best: bool  # `loss` is the lowest so far
    is_last: bool  # the final epoch (the planned last one, or the plateau rule stopped training)


Callback = Callable[[EpochEnd], None]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, else CUDA when present, else CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def new_state(config: TrialConfig, device: torch.device) -> TrainState:
    """A freshly initialised model and optimizer, seeded by the config."""
    torch.manual_seed(config.seed)
    model = create_model(config).to(device)
    # eps 1e-7 is Keras' Adam default, which the original used.
    eps = 1e-7 if config.model.net == "original" else 1e-8
    auxiliary = {id(p) for p in model.auxiliary_parameters()}
    main = [p for p in model.parameters() if id(p) not in auxiliary]
    optimizer = torch.optim.Adam(main, lr=config.train.lr, eps=eps)
    return TrainState(model, optimizer, auxiliary=model.auxiliary_optimizer(), sampler=new_sampler(config))


def new_sampler(config: TrialConfig) -> torch.Generator | None:
    """The generator of sampling=iid's batches, seeded from the trial's seed (None for epochs)."""
    if config.train.sampling != "iid":
        return None
    return torch.Generator(device="cpu").manual_seed(config.seed + IID_STREAM)


def fit(
    config: TrialConfig,
    data: Dataset,
    callbacks: Sequence[Callback] = (),
    device: str | torch.device | None = None,
    state: TrainState | None = None,
) -> TrainState:
    """Train for `config.train.epochs` epochs, or the updates `max_steps` allows (TrainConfig.max_steps_counts) when
    set, from `state` onwards, and call each callback after every epoch (a step budget's last epoch may be partial).
    With sampling=iid an epoch is a report every rows // batch_size batches drawn from every row."""
    if device is None and state is not None:
        device = next(state.model.parameters()).device  # a restored state trains where it was loaded
    device = pick_device(device)
    data = data.to(device)
    state = state or new_state(config, device)
    generator = torch.Generator(device="cpu").manual_seed(config.seed + 7919 * state.epoch)
    torch.manual_seed(config.seed + state.epoch)  # reparameterisation noise: reproducible, also after a resume
    plateau = PlateauRule(config, state)
    while not _budget_spent(config, state) and not plateau.stopped:
        epoch = state.epoch + 1
        started = time.perf_counter()
        train_metrics, train_rows = _train_epoch(config, state, data, generator, device)
        train_seconds = time.perf_counter() - started
        val_metrics = evaluate(config, state.model, data, data.val_idx, device, step=state.steps)
        metrics = _epoch_metrics(epoch, train_metrics, val_metrics, train_seconds, train_rows)
        metrics["steps"] = state.steps
        metrics["epoch_seconds"] = time.perf_counter() - started
        metrics["learning_rate"] = state.optimizer.param_groups[0]["lr"]  # `lr` is the config key
        is_best = metrics["loss"] < state.best_loss
        state.history.append(metrics)
        plateau.update()
        event = EpochEnd(config, state, metrics, data, is_best, _budget_spent(config, state) or plateau.stopped)
        for callback in callbacks:
            callback(event)
    return state


def _budget_spent(config: TrialConfig, state: TrainState) -> bool:
    if config.update_budget is not None:
        return state.steps >= config.update_budget
    return state.epoch >= config.train.epochs


def training_size(config: TrialConfig, data: Dataset) -> int:
    """N, the rows training draws from: the training split, or every row with sampling=iid (what beta-TCVAE's
    estimators weight by)."""
    return len(data.images) if config.train.sampling == "iid" else len(data.train_idx)


def _batches(config: TrialConfig, state: TrainState, data: Dataset, generator, device):
    """One epoch's batch indices: a shuffled pass over the training split, or rows // batch_size full batches drawn
    uniformly with replacement from every row (each drawn when needed, so a resumed sampler goes on exactly)."""
    batch_size = config.train.batch_size
    if config.train.sampling == "iid":
        rows = len(data.images)
        for _ in range(max(rows // batch_size, 1)):
            yield torch.randint(rows, (batch_size,), generator=state.sampler).to(device)
        return
    order = data.train_idx[torch.randperm(len(data.train_idx), generator=generator).to(device)]
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


def _autocast(config: TrialConfig, device: torch.device):
    """bf16 autocast on CUDA when asked for; CPU always trains in fp32."""
    if device.type == "cuda" and config.train.precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def _train_epoch(config, state: TrainState, data: Dataset, generator, device) -> tuple[dict[str, torch.Tensor], int]:
    """One epoch's training: the terms' means and the images trained on."""
    state.model.train()
    size, budget = training_size(config, data), config.update_budget
    sums: dict[str, torch.Tensor] = {}
    for number, index in enumerate(_batches(config, state, data, generator, device)):
        if len(index) < 2 and number > 0:
            break  # BatchNorm cannot train on a single sample
        x, labels = data.batch(index), data.labels[index]
        terms = _train_step(config, state, x, labels, size, device)
        _accumulate(sums, terms, len(index))
        if budget is not None and state.steps >= budget:
            break
    rows = int(sums["rows"])
    return _means(sums), rows


def _train_step(config: TrialConfig, state: TrainState, x, labels, dataset_size: int, device) -> LossTerms:
    """One optimiser step (and the auxiliary optimiser's, after it, as in Kim & Mnih's Algorithm 2)."""
    model = state.model
    with _autocast(config, device):
        terms = model.loss(model(x, labels), x, labels, LossContext(state.steps, dataset_size))
    state.optimizer.zero_grad(set_to_none=True)
    terms.total.backward()
    state.optimizer.step()
    if state.auxiliary is not None and terms.auxiliary is not None:
        state.auxiliary.zero_grad(set_to_none=True)  # also drops what total.backward() left on these parameters
        terms.auxiliary.backward()
        state.auxiliary.step()
    state.steps += 1
    return terms


def measure_throughput(config: TrialConfig, steps: int = 10, device: str | torch.device | None = None) -> float:
    """Training images a second for this config on `device`: its batch size over the median time of `steps` steps on
    random images of its shape, after two warm-up steps (the median: a busy machine's slow steps do not count)."""
    device = pick_device(device)
    state = new_state(config, device)
    state.model.train()
    size, batch = config.data.image_size, config.train.batch_size
    x = torch.rand(batch, config.channels, size, size, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    seconds = []
    for step in range(steps + 2):
        started = time.perf_counter()
        _train_step(config, state, x, labels, 100 * batch, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step >= 2:
            seconds.append(time.perf_counter() - started)
    return batch / statistics.median(seconds)


@torch.no_grad()
def evaluate(
    config: TrialConfig, model: VAE, data: Dataset, index: torch.Tensor, device=None, step: int = 0
) -> dict[str, torch.Tensor]:
    """Loss terms over the given rows (eval mode, one sampled z a row), as means; `kl_per_dim` per dimension.
    `step`: the optimiser steps trained so far (a schedule's position)."""
    model.eval()
    sums: dict[str, torch.Tensor] = {}
    for start in range(0, len(index), EVAL_BATCH):
        rows = index[start : start + EVAL_BATCH]
        x, labels = data.batch(rows), data.labels[rows]
        with _autocast(config, device or data.images.device):
            terms = model.loss(model(x, labels), x, labels, LossContext(step, training_size(config, data)))
        _accumulate(sums, terms, len(rows))
    return _means(sums)


def _accumulate(sums: dict[str, torch.Tensor], terms, rows: int) -> None:
    # Sums stay on the device: no host sync per batch.
    for name, value in {**terms.scalars(), "kl_per_dim": terms.kl_per_dim}.items():
        sums[name] = sums.get(name, 0) + value.detach().float() * rows
    sums["rows"] = sums.get("rows", 0) + rows


def _means(sums: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    rows = sums.pop("rows")
    return {name: value / rows for name, value in sums.items()}


def _epoch_metrics(epoch: int, train: dict, val: dict, train_seconds: float, train_rows: int) -> dict[str, Any]:
    """Flatten both splits into the shared metric names; raise TrainingDiverged on a non-finite term."""
    metrics: dict[str, Any] = {"epoch": epoch}
    for split, terms in (("train", train), ("val", val)):
        for name, value in terms.items():
            if name == "kl_per_dim":
                continue
            number = float(value)
            if not math.isfinite(number):
                raise TrainingDiverged(epoch, f"{split}_{name}", number)
            metrics[f"{split}_{name}"] = number
    metrics["val_kl_per_dim"] = [float(v) for v in val["kl_per_dim"]]
    metrics["loss"] = metrics["val_recon"] + metrics["val_kl"]
    metrics["samples_per_second"] = train_rows / train_seconds  # images trained a second (validation excluded)
    return metrics


class PlateauRule:
    """The original's rule: when the monitored loss stops moving, cut the learning rate; after 10 cuts, stop."""

    def __init__(self, config: TrialConfig, state: TrainState) -> None:
        self.enabled = config.train.plateau_stop
        self.state = state
        self.monitor = ARCHITECTURES[config.model.arch].plateau_monitor
        self.stopped = self.enabled and state.lr_reductions >= PLATEAU_MAX_REDUCTIONS

    def update(self) -> None:
        recent = [h[self.monitor] for h in self.state.history[-PLATEAU_PATIENCE:]]
        if not self.enabled or len(recent) < PLATEAU_PATIENCE:
            return
        changes = [abs(b - a) / max(abs(a), 1e-12) for a, b in itertools.pairwise(recent)]
        if all(change < PLATEAU_MIN_CHANGE for change in changes):
            self.state.lr_reductions += 1
            for group in self.state.optimizer.param_groups:
                group["lr"] *= PLATEAU_FACTOR
            self.stopped = self.state.lr_reductions >= PLATEAU_MAX_REDUCTIONS
