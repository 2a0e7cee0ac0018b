"""The `latentsweep` command: train, sweep, best, metrics, explore.

Ray is imported only by the subcommands that need it, after RAY_AUTH_MODE is settled.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from vaemodels.config import DataConfig, ModelConfig, TrainConfig

# (flat key, annotation) for every config key, in CONTRACT.md order.
CONFIG_FIELDS: list[tuple[str, str]] = [
    *((f.name, str(f.type)) for section in (ModelConfig, TrainConfig, DataConfig) for f in dataclasses.fields(section)),
    ("seed", "int"),
]


def add_config_flags(parser: argparse.ArgumentParser, only: tuple[str, ...] | None = None, title: str = "") -> None:
    """One flag a flat config key (`latent_dim` -> `--latent-dim`); unset flags stay None and keep the defaults."""
    group = parser.add_argument_group(title or "trial config (flat keys of CONTRACT.md)")
    for name, annotation in CONFIG_FIELDS:
        if only is not None and name not in only:
            continue
        flag = "--" + name.replace("_", "-")
        if annotation.startswith("bool"):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        else:
            kind = {"int": int, "float": float}.get(annotation.split(" ")[0], str)
            group.add_argument(flag, type=kind, default=None, metavar=name.upper())


def config_overrides(args: argparse.Namespace) -> dict:
    """The flat config keys the user set on the command line."""
    return {name: getattr(args, name) for name, _ in CONFIG_FIELDS if getattr(args, name, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="latentsweep", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one model into a trial folder (no Ray)")
    add_config_flags(train)
    train.add_argument("--out", type=Path, required=True, help="trial folder to write")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when present)")
    train.add_argument("--download", action="store_true", help="allow downloading mnist/fashion_mnist")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    train.set_defaults(handler=_run_train)

    models = commands.add_parser("models", help="list the architectures and their parameter counts")
    models.set_defaults(handler=_run_models)

    for register in _subcommand_modules():
        register(commands)
    return parser


def _subcommand_modules():
    """Subcommands that live beside their code; imported lazily so `train` never imports Ray."""
    from sweeps import commands

    return commands.REGISTER


def _run_train(args: argparse.Namespace) -> int:
    from sweeps.train_cli import train_command

    return train_command(args, config_overrides(args))


def _run_models(args: argparse.Namespace) -> int:
    from vaemodels import TrialConfig, count_parameters, create_model, list_models

    for arch in list_models():
        for net, dataset in (("conv", "mnist_5k"), ("conv", "shapes"), ("original", "mnist_5k")):
            config = TrialConfig.from_dict({"arch": arch, "net": net, "dataset": dataset})
            size = config.data.image_size
            print(f"{arch:12s} {net:9s} {size}x{size}  {count_parameters(create_model(config)):>10,d} parameters")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `latentsweep` console script."""
    args = build_parser().parse_args(argv)
    from vaemodels.config import ConfigError
    from vaemodels.datasets import DatasetUnavailable

    try:
        return args.handler(args)
    except (ConfigError, DatasetUnavailable) as error:
        print(f"latentsweep {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
