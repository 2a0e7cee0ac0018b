"""The subcommands sweeps/ adds to `latentsweep` (pyproject.toml's `latentsweep.commands` entry points).

Each registration adds its flags with light imports only; the handler is imported when its command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vaemodels import DCI_REGRESSORS, DCI_SAMPLES, RANGE_KINDS, RECOMPUTABLE, SCORE_SETTINGS, add_config_flags, lazy

Subcommands = argparse._SubParsersAction


def register_train(commands: Subcommands) -> None:
    """`latentsweep train`: one model into a trial folder, no Ray."""
    train = commands.add_parser("train", help="train one model into a trial folder (no Ray)")
    add_config_flags(train)
    train.add_argument("--out", type=Path, required=True, help="trial folder to write")
    train.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when present)")
    train.add_argument("--download", action="store_true", help="allow downloading mnist, fashion_mnist, dsprites")
    train.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all cores)")
    train.set_defaults(handler=lazy("sweeps.train_cli:train_command"))


def register_models(commands: Subcommands) -> None:
    """`latentsweep models`: the registered architectures and their sizes."""
    models = commands.add_parser("models", help="list the architectures, their own keys and parameter counts")
    models.set_defaults(handler=lazy("sweeps.train_cli:models_command"))


def register_sweep(commands: Subcommands) -> None:
    """`latentsweep sweep`: run or resume a Ray Tune + Optuna sweep."""
    from sweeps.run import add_sweep_flags

    parser = commands.add_parser("sweep", help="run or resume a Ray Tune + Optuna sweep")
    add_sweep_flags(parser)
    parser.set_defaults(handler=lazy("sweeps.run:sweep_command"))


def register_best(commands: Subcommands) -> None:
    """`latentsweep best`: the best trials of a sweep."""
    parser = commands.add_parser("best", help="the best trials of a sweep by loss or any metric")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument(
        "--metric", default="loss", help="loss (ranks by best_loss) or any column, e.g. mig (default: loss)"
    )
    parser.add_argument(
        "--mode",
        choices=("min", "max"),
        help="min: lower is better, max: higher is better (default: the metric's own way, min for loss and the loss "
        "terms, max for mig, DCI, the scores, UDR, probe_accuracy and active_units; a column whose way is not known "
        "is refused without --mode)",
    )
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--export", help="copy the best checkpoint folder here")
    parser.add_argument("--pareto", action="store_true", help="the Pareto front of the sweep's objectives instead")
    parser.add_argument("--metrics", type=_names, help="objectives for --pareto, e.g. loss,mig (default: the sweep's)")
    parser.add_argument(
        "--modes", type=_names, help="min or max for each of --metrics, e.g. min,max (default: each metric's own way)"
    )
    parser.set_defaults(handler=lazy("sweeps.best:best_command"))


def _names(text: str) -> tuple[str, ...]:
    return tuple(name for name in text.split(",") if name)


def register_metrics(commands: Subcommands) -> None:
    """`latentsweep metrics`: compute DCI, the scores and UDR for a sweep and update trials.parquet."""
    parser = commands.add_parser("metrics", help="compute DCI, the disentanglement scores and UDR for a sweep")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("--dci-samples", type=int, default=DCI_SAMPLES, help="latent rows used by DCI")
    parser.add_argument("--trials", help="comma-separated trial ids (default: every finished trial)")
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help=f"recompute just these: {', '.join(RECOMPUTABLE)} (default: all, each served from its cache if current)",
    )
    parser.add_argument(
        "--regressor",
        choices=DCI_REGRESSORS,
        help="random_forest (seconds a trial) or gradient_boosting (the reference; minutes a trial); default: the "
        "sweep's",
    )
    parser.add_argument(
        "--scores", choices=tuple(SCORE_SETTINGS), help="sample counts of the scores (default: the sweep's)"
    )
    parser.add_argument(
        "--out", metavar="FILE", help="also write the table it prints: FILE.csv (every digit) or FILE.md (Markdown)"
    )
    parser.set_defaults(handler=lazy("sweeps.metrics:metrics_command"))


def register_status(commands: Subcommands) -> None:
    """`latentsweep status`: a sweep's progress from its trials.parquet, no Ray."""
    parser = commands.add_parser("status", help="trials done, running and failed, the best so far, and an ETA")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS until the sweep ends")
    parser.set_defaults(handler=lazy("sweeps.status:status_command"))


def register_dashboard(commands: Subcommands) -> None:
    """`latentsweep dashboard`: optuna-dashboard on a sweep's study, built from its trials.parquet."""
    parser = commands.add_parser("dashboard", help="optuna-dashboard on a sweep (live), or --export its study")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (default 8080)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--export", metavar="FILE", help="write the study to this SQLite file instead of serving")
    parser.set_defaults(handler=lazy("sweeps.dashboard:dashboard_command"))


def register_study(commands: Subcommands) -> None:
    """`latentsweep study`: a sweep's report: every trial's scores, their spread over seeds where a configuration
    has several, and how the scores agree, as report.md and PNG figures."""
    parser = commands.add_parser(
        "study", help="a sweep's report: every trial's scores, and their spread over seeds where there are several"
    )
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("--out", required=True, help="folder for the figures and report.md")
    parser.add_argument("--scores", help="comma-separated score columns (default: every latent metric present)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.set_defaults(handler=lazy("sweeps.study_report:study_command"))


def register_traverse(commands: Subcommands) -> None:
    """`latentsweep traverse`: a trial's labelled latent traversal grid (PNG) or one dimension's sweep (GIF)."""
    parser = commands.add_parser("traverse", help="a trial's latent traversal grid as a PNG, or a GIF of one dimension")
    parser.add_argument("sweep_dir", help="a sweep folder (local path or URI)")
    parser.add_argument("trial", help="a trial id as `latentsweep best` prints it, or `best` (the sweep's best trial)")
    parser.add_argument("--out", required=True, help="grid.png (the labelled grid) or sweep.gif (one dimension)")
    parser.add_argument(
        "--dims",
        type=_dim_list,
        help="latent dimensions, e.g. 0,3: the PNG's rows, or the GIF's one (default: the most active by KL)",
    )
    parser.add_argument("--steps", type=int, default=10, help="images a dimension's sweep (default 10)")
    parser.add_argument(
        "--range",
        choices=RANGE_KINDS,
        default="embedding",
        help="what each sweep spans: the 1st-99th percentile of the means (embedding, default), the prior's central "
        "99%% (prior), or the start's class mean +- 1 std (class)",
    )
    parser.add_argument("--row", type=int, help="start at the posterior mean of this latents row (default: z = 0)")
    parser.add_argument("--label", type=int, help="the class a conditional decoder is given (default: the row's)")
    parser.set_defaults(handler=lazy("sweeps.traverse:traverse_command"))


def _dim_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give latent dimensions as integers, e.g. 0,3") from None
