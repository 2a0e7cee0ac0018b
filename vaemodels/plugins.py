"""Entry points of installed packages: how a user's architecture, dataset or command joins latentsweep.

A plugin declares, in its own pyproject.toml, for example

    [project.entry-points."latentsweep.architectures"]
    my_vae = "my_package.arch:SPEC"

and latentsweep loads it when the registry is first imported, in the driver and in every Ray worker alike.
"""

from __future__ import annotations

import warnings
from importlib import metadata
from typing import Any

ARCHITECTURES_GROUP = "latentsweep.architectures"  # each entry point: a vaemodels.architectures.ArchSpec
DATASETS_GROUP = "latentsweep.datasets"  # each entry point: a vaemodels.dataset_registry.DatasetSpec
COMMANDS_GROUP = "latentsweep.commands"  # each entry point: register(subparsers) adding one subcommand


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The group's entry points, one per name (the first installed distribution wins, as importlib orders them)."""
    seen: dict[str, metadata.EntryPoint] = {}
    for point in metadata.entry_points(group=group):
        seen.setdefault(point.name, point)
    return list(seen.values())


def load_objects(group: str) -> list[Any]:
    """Load every entry point of the group; a plugin that fails to import is skipped with a warning naming it."""
    objects = []
    for point in entry_points(group):
        try:
            objects.append(point.load())
        except Exception as error:  # a broken plugin must not take down every command
            warnings.warn(f"plugin {point.name!r} ({point.value}) in {group} failed to load: {error}", stacklevel=2)
    return objects
