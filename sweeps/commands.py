"""Subcommands registered beside `train`: each entry adds one subparser to the `latentsweep` command."""

from __future__ import annotations

REGISTER: list = []
