"""The sweep's console: a line a finished or failed trial, the best so far, and --verbose for Tune's reporter."""

import argparse

from sweeps.console import Console, OnceEach, finishing_line
from sweeps.plan import search_line
from sweeps.run import add_sweep_flags, settings_from_args
from sweeps.settings import make_settings
from vaemodels import CommandParser


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


def test_the_start_names_every_searched_key_and_marks_what_no_one_asked_for():
    line = search_line(make_settings("quick"))
    assert line.startswith("tpe searches 7 keys: arch (vae, conditional, branched), beta (0.5 to 8, log-uniform), ")
    assert "lr (0.0001 to 0.003, log-uniform; searched by default, --lr fixes it)" in line
    assert "classifier_on (features, z; branched only; searched by default, --classifier-on fixes it)" in line
    assert "beta (0.5 to 8, log-uniform)," in line  # the preset's own range: not a default
    fixed = search_line(make_settings("quick", {"archs": ("vae",)}, {"lr": 1e-3}))
    assert fixed == "tpe searches 2 keys: beta (0.5 to 8, log-uniform), latent_dim (2, 4, 8)"
    grid = search_line(make_settings("quick", {"betas": (1.0, 4.0), "seeds": (0, 1), "archs": ("vae",)}))
    assert grid == "a grid over 3 keys: beta (1, 4), latent_dim (2, 4, 8), seed (0, 1)"


def test_the_finishing_line_says_what_finishing_does_and_why_that_many():
    one = finishing_line(1, "random_forest", "quick", "best-and-last")
    assert one.startswith("finishing 1 trial (still queued or running when the last trial stopped training): ")
    assert "DCI with random_forest and the quick scores computed" in one and "optimizer state dropped" in one
    assert one.endswith("trimmed to the best and the last")
    two = finishing_line(2, None, None, "best")
    assert two.startswith("finishing 2 trials (") and "DCI" not in two and two.endswith("trimmed to the best")


def test_every_sweep_flag_says_what_it_does_and_its_default():
    parser = CommandParser(prog="latentsweep sweep")
    add_sweep_flags(parser)
    options = [action for action in parser._actions if action.option_strings != ["-h", "--help"]]
    assert [a.dest for a in options if not a.help] == []
    shown = {action.dest: action.help % vars(action) for action in options}
    for dest in ("storage", "cpus_per_trial", "gpus_per_trial", "max_failures", "dci_samples"):
        assert f"default: {parser.get_default(dest)})" in shown[dest], dest
    for dest, default in (("epochs", "10"), ("lr", "0.001"), ("net", "conv"), ("recon", "bernoulli")):
        assert shown[dest].endswith(f"(default {default})"), shown[dest]
    assert "shapes" in shown["dataset"] and shown["dataset"].endswith("(default mnist_5k)")
