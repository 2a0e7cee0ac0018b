"""The `latentsweep` command: a shell whose subcommands come from the `latentsweep.commands` entry points.

Each package registers its own subcommands in pyproject.toml (sweeps/ the training and sweep commands, explorer/
`explore`), so no package imports another to be on the command line. A registration adds its parser with light
imports only, and names its handler as "module:function", imported when that command runs: `latentsweep --help`
and `latentsweep sweep --help` never import torch, scikit-learn, pyarrow or Ray.

One style of error: a user's mistake (`vaemodels.errors.UserError`, or a bad flag) prints one line,
`latentsweep CMD: ...`, on stderr and exits 2; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from vaemodels import plugins
from vaemodels.architectures import ARCHITECTURES, key_owner
from vaemodels.config import CONFIG_KEYS, KEY_HELP, key_default, key_kind
from vaemodels.dataset_registry import DATASETS
from vaemodels.errors import UserError

Handler = Callable[[argparse.Namespace], int]


class CommandParser(argparse.ArgumentParser):
    """argparse with the project's one-line error (argparse's own prints the whole usage first)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def lazy(target: str) -> Handler:
    """A handler that imports "module:function" only when its command runs."""

    def run(args: argparse.Namespace) -> int:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(args)

    run.__qualname__ = target
    return run


def add_config_flags(
    parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None, title: str = ""
) -> argparse._ArgumentGroup:
    """One flag a flat config key (`latent_dim` -> `--latent-dim`), in a group returned for a caller's own flags;
    unset flags stay None and keep the defaults.

    The keys come from the config and the architecture registry, so a plugin architecture's keys appear too.
    """
    group = parser.add_argument_group(title or "trial config (flat keys)")
    for name in CONFIG_KEYS:
        if only is not None and name not in only:
            continue
        flag = "--" + name.replace("_", "-")
        kind = key_kind(name)
        help_text = _key_help(name)
        if kind == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            group.add_argument(
                flag,
                type={"int": int, "float": float}.get(kind, str),
                default=None,
                metavar=name.upper(),
                help=help_text,
            )
    return group


def _key_help(name: str) -> str | None:
    owner = key_owner(name)
    if owner is None:
        text = KEY_HELP.get(name, "").replace("{datasets}", ", ".join(DATASETS))
        default = key_default(name)
        shown = default is not None and "default" not in text
        return f"{text} (default {default})" if shown else text or None
    key = next(key for key in ARCHITECTURES[owner].keys if key.name == name)
    return f"{key.help} (arch={owner} only; default {key.default})"


def config_overrides(args: argparse.Namespace) -> dict:
    """The flat config keys the user set on the command line."""
    return {name: getattr(args, name) for name in CONFIG_KEYS if getattr(args, name, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every registered subcommand."""
    parser = CommandParser(prog="latentsweep", description="Sweeps of VAEs on Ray Tune + Optuna, and their explorer.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in plugins.load_objects(plugins.COMMANDS_GROUP):
        register(commands)
    if not commands.choices:
        parser.error("no subcommands are registered: install the package (pip install -e .) to get them")
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `latentsweep` console script."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the subcommand's parser, so the message says which command refused it
        _subparsers(parser).choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.handler(args)
    except UserError as error:
        print(f"latentsweep {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
