"""Subcommands registered beside `train`: each entry adds one subparser to the `latentsweep` command."""

from __future__ import annotations

import argparse

from explorer import cli as explorer_cli  # imports no Panel: `train` stays light
from sweeps import best, metrics


def _register_sweep(commands: argparse._SubParsersAction) -> None:
    from sweeps.run import add_sweep_flags, sweep_command

    parser = commands.add_parser("sweep", help="run or resume a Ray Tune + Optuna sweep")
    add_sweep_flags(parser)
    parser.set_defaults(handler=sweep_command)


REGISTER: list = [_register_sweep, best.register, metrics.register, explorer_cli.register]
