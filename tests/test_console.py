"""The sweep's console: a line a finished or failed trial, the best so far, and --verbose for Tune's reporter."""

import argparse

from sweeps.console import Console, OnceEach
from sweeps.run import add_sweep_flags, settings_from_args


def row(trial_id, **values):
    return {"trial_id": trial_id, "arch": "vae", "latent_dim": 4, "beta": 2.0, "lr": 1e-3, "epochs": 4,
            "epochs_trained": 4, "status": "TERMINATED", **values}  # fmt: skip


def test_each_trial_gets_one_line_saying_how_it_ended(capsys):
    console = Console(planned=4)
    for trial_id in ("a", "b", "c", "d"):
        console.started(trial_id)
    console.finished_trial(row("a", best_loss=120.0, trial_seconds=12.0), 12.0)
    console.finished_trial(row("b", best_loss=float("nan"), diverged=True, epochs_trained=2), None)
    console.finished_trial(row("c", best_loss=110.0, stopped_early=True, epochs_trained=1), 3.0)
    console.errored_trial(row("d", status="ERROR", error="RuntimeError: boom"))
    console.close()
    lines = capsys.readouterr().out.strip().split("\n")
    assert lines == [
        "a  arch=vae latent_dim=4 beta=2 lr=0.001  best_loss 120  (4 epochs in 12 s)",
        "b  arch=vae latent_dim=4 beta=2 lr=0.001  diverged after 2 epochs  (2 epochs)",
        "c  arch=vae latent_dim=4 beta=2 lr=0.001  best_loss 110, stopped early at epoch 1 of 4  (1 epoch in 3 s)",
        "d  arch=vae latent_dim=4 beta=2 lr=0.001  errored: RuntimeError: boom",
    ]
    assert console.best == (110.0, "c") and console.finished == 3 and console.errored == 1 and not console.running


def test_a_resumed_sweep_counts_what_it_had_and_a_max_metric_ranks_upwards():
    console = Console(planned=3, metric="mig", mode="max")
    console.counted([row("a", mig=0.2, diverged=float("nan")), row("b", mig=0.5), row("c", status="ERROR")])
    assert console.best == (0.5, "b") and (console.finished, console.errored) == (2, 1)
    console.close()


def test_verbose_brings_back_tunes_reporter():
    parser = argparse.ArgumentParser()
    add_sweep_flags(parser)
    assert settings_from_args(parser.parse_args([]))[1].verbose == 0
    assert settings_from_args(parser.parse_args(["--verbose"]))[1].verbose == 1


def test_a_repeated_log_message_passes_once():
    import logging

    once = OnceEach()
    records = [logging.LogRecord("ray", logging.WARNING, "x", 1, "slow step %d", (n,), None) for n in (1, 1, 2)]
    assert [once.filter(record) for record in records] == [True, False, True]
