"""Run or resume a sweep: `latentsweep sweep ...`, or `python sweeps/run.py ...` (what `ray submit` copies)."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # run as a plain script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sweeps import auth, sweep_file
from sweeps.options import RunOptions
from sweeps.settings import SettingsError, SweepSettings, make_settings
from sweeps.versions import check_versions
from vaemodels import DCI_SAMPLES, KEEP_POLICIES, CommandParser, UserError, add_config_flags, arch_keys

if TYPE_CHECKING:
    from vaemodels import DatasetFile, Lease, Location

SETTINGS_FILE = "sweep.yaml"  # the resolved sweep file (sweeps/sweep_file.py)
OLD_SETTINGS_FILE = "sweep.json"  # what versions before sweep files stored
# Config keys a sweep can fix for every trial (the searched ones have their own flags).
FIXED_KEYS = ("net", "recon", "init", "lr", "batch_size", "epochs", "max_steps", "max_steps_counts", "sampling")
FIXED_KEYS += ("plateau_stop", "precision")
FIXED_KEYS += ("dataset", "image_size", "data_dir", "n_samples", "embed_samples", "data_seed")
FIXED_KEYS += tuple(key.name for key in arch_keys())  # fixed: not searched (and refused for an arch not swept)


def _comma_list(kind: type):
    """An argparse type: '1,4,16' -> (1.0, 4.0, 16.0)."""

    def parse(text: str) -> tuple:
        return tuple(kind(value) for value in text.split(",") if value)

    parse.__name__ = f"comma-separated {kind.__name__}s"  # argparse names the type in its error message
    return parse


floats, ints, strings = _comma_list(float), _comma_list(int), _comma_list(str)


def add_sweep_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `latentsweep sweep`, also used by `python sweeps/run.py`."""
    parser.add_argument("--preset", help=f"one of {', '.join(sweep_file.preset_names())} (default quick)")
    parser.add_argument("--config", metavar="SWEEP.yaml", help="a sweep file (README: Sweep files); flags override it")
    parser.add_argument("--name", help="sweep name (default: the preset's or file's); the same name again resumes")
    parser.add_argument("--quick", action="store_true", help="the preset's or file's quick: block (a small version)")
    parser.add_argument("--yes", action="store_true", help="start a sweep whose file asks first (confirm: true)")
    parser.add_argument(
        "--storage",
        default="results",
        help="storage root: absolute path, NFS path, s3://, gs:// (default: %(default)s)",
    )
    parser.add_argument("--archs", type=strings, help="comma-separated architectures (default: the preset's)")
    parser.add_argument(
        "--beta-range", type=float, nargs=2, metavar=("LO", "HI"), help="log-uniform beta range (default: the preset's)"
    )
    parser.add_argument("--betas", type=floats, help="grid of betas, e.g. 1,4,16 (a grid instead of Optuna)")
    parser.add_argument("--latent-dims", type=ints, help="latent sizes, e.g. 2,4,8,16,32 (default: the preset's)")
    parser.add_argument("--seeds", type=ints, help="repeat each grid configuration with each seed, e.g. 0,1")
    searches = "Optuna's tpe (default), random or nsga2, or grid (every combination)"
    parser.add_argument("--search", choices=sweep_file.SEARCHES, help=searches)
    parser.add_argument("--num-samples", type=int, help="trials of an Optuna search (default: the preset's)")
    parser.add_argument("--scheduler", choices=("asha", "none"), help="early stopping (default: asha for search)")
    parser.add_argument("--metric", help="metric to rank trials by (default: the preset's, loss)")
    parser.add_argument(
        "--mode",
        choices=("min", "max"),
        help="min or max (default: the metric's own way: min for loss and the loss terms, max for mig, "
        "probe_accuracy and active_units)",
    )
    parser.add_argument("--metrics", type=strings, help="two or more objectives, e.g. loss,mig: multi-objective TPE")
    parser.add_argument(
        "--modes", type=strings, help="min or max for each of --metrics, e.g. min,max (default: each one's own way)"
    )
    parser.add_argument("--seed", type=int, help="the searcher's seed (default: the preset's, 0)")
    parser.add_argument("--max-concurrent", type=int, help="trials at once (default: as many as resources allow)")
    parser.add_argument(
        "--cpus-per-trial", type=float, default=1.0, help="CPUs each trial reserves (default: %(default)s)"
    )
    parser.add_argument(
        "--gpus-per-trial", type=float, default=0.0, help="fractional: 0.25 packs four on a GPU (default: %(default)s)"
    )
    parser.add_argument(
        "--max-failures", type=int, default=0, help="restarts of a crashed trial (default: %(default)s)"
    )
    parser.add_argument(
        "--address", help="local (a fresh Ray), auto, or ray://HOST:PORT (default: $RAY_ADDRESS when set, else local)"
    )
    parser.add_argument("--mlflow", metavar="URI", help="log each trial as an MLflow run, e.g. sqlite:///mlflow.db")
    parser.add_argument("--verbose", action="store_true", help="Tune's own reporter: every config and epoch result")
    parser.add_argument("--fresh", action="store_true", help="move an existing sweep of this name aside first")
    parser.add_argument(
        "--allow-version-change",
        action="store_true",
        help="resume a sweep made with another minor version of ray or optuna (their pickled state may not load)",
    )
    parser.add_argument(
        "--take-over",
        action="store_true",
        help="take the sweep folder's lease from a driver you know is dead (README: One driver per sweep folder)",
    )
    parser.add_argument(
        "--dci-samples",
        type=int,
        default=DCI_SAMPLES,
        help="latent rows a trial for DCI (0: skip; default: %(default)s)",
    )
    parser.add_argument(
        "--keep",
        choices=KEEP_POLICIES,
        default="best-and-last",
        help="checkpoints a finished trial keeps: its best and its last (default; the last has every epoch's "
        "history), or only its best",
    )
    group = add_config_flags(
        parser,
        only=FIXED_KEYS,
        title="fixed config for every trial (a flag left out: the preset's value, else the default)",
    )
    group.add_argument(
        "--dataset-file",
        metavar="PATH.npz",
        help="a factor_npz file of your own (images and integer factors) as the dataset, named by the file's stem "
        "unless --dataset NAME; the sweep records its path, size and sha256 (README: Your own dataset file)",
    )


def settings_from_args(args: argparse.Namespace) -> tuple[SweepSettings, RunOptions]:
    """Validated settings and run options from parsed flags; raises SettingsError naming the flag."""
    fixed = {key: getattr(args, key) for key in FIXED_KEYS if getattr(args, key, None) is not None}
    for key, value in fixed.items():  # the config reads NaN as "not set": it would become the default unseen
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingsError(f"--{key.replace('_', '-')} {value}: not a finite number")
    if "\0" in fixed.get("data_dir", ""):
        raise SettingsError(f"--data-dir {fixed['data_dir']!r}: not a path (it holds a NUL character)")
    if "data_dir" in fixed:
        fixed["data_dir"] = str(Path(fixed["data_dir"]).expanduser().resolve())  # Tune moves the working directory
    overrides = {
        "dataset_file": _dataset_file(args, fixed),
        "name": args.name,
        "search": args.search,
        "archs": args.archs,
        "beta_range": tuple(args.beta_range) if args.beta_range else None,
        "betas": args.betas,
        "latent_dims": args.latent_dims,
        "seeds": args.seeds,
        "num_samples": args.num_samples,
        "scheduler": args.scheduler,
        "metric": args.metric,
        "mode": args.mode,
        "metrics": args.metrics,
        "modes": args.modes,
        "seed": args.seed,
    }
    if args.config and args.preset:
        raise SettingsError(f"--preset {args.preset} and --config {args.config}: give one (a preset is a sweep file)")
    settings = make_settings(args.preset, overrides, fixed, config=args.config, quick=args.quick)
    _check_run_flags(args)
    options = RunOptions(
        storage=args.storage,
        address=args.address,
        max_concurrent=args.max_concurrent,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_failures=args.max_failures,
        fresh=args.fresh,
        take_over=args.take_over,
        verbose=1 if args.verbose else 0,
        mlflow=args.mlflow,
        dci_samples=args.dci_samples,
        keep=args.keep,
        allow_version_change=args.allow_version_change,
    )
    return settings, options


def _dataset_file(args: argparse.Namespace, fixed: dict[str, Any]) -> DatasetFile | None:
    """--dataset-file measured (size, sha256) and its dataset's name fixed; None without the flag."""
    if not getattr(args, "dataset_file", None):
        return None
    from vaemodels import DatasetFile

    record = DatasetFile.measure(args.dataset_file, args.dataset)  # a UserError names --dataset-file
    fixed["dataset"] = record.name
    return record


def _check_run_flags(args: argparse.Namespace) -> None:
    """The run options' own checks (Tune would take NaN CPUs or a negative concurrency, and fail later)."""
    if not (math.isfinite(args.cpus_per_trial) and args.cpus_per_trial > 0):
        raise SettingsError(f"--cpus-per-trial {args.cpus_per_trial}: must be a finite number > 0")
    if not (math.isfinite(args.gpus_per_trial) and args.gpus_per_trial >= 0):
        raise SettingsError(f"--gpus-per-trial {args.gpus_per_trial}: must be a finite number >= 0")
    if args.max_failures < 0:
        raise SettingsError(f"--max-failures {args.max_failures}: must be >= 0 (restarts of a crashed trial)")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise SettingsError(
            f"--max-concurrent {args.max_concurrent}: must be >= 1 (leave it out for as many as resources allow)"
        )
    if args.mlflow and importlib.util.find_spec("mlflow") is None:
        raise SettingsError(f'--mlflow {args.mlflow}: mlflow is not installed (pip install -e ".[mlflow]")')


def prepare_storage(settings: SweepSettings, options: RunOptions, lease: Lease | None = None) -> Location:
    """The sweep folder: checked writable, moved aside with --fresh, and matched against a stored sweep.

    `lease`: the folder's lease, held already; --fresh moves it aside with the folder, so it is made anew here.
    """
    from vaemodels import LEASE_FILE, resolve

    root = resolve(options.storage)
    if root.is_local:
        _check_writable(Path(root.path))
    sweep = root.join(settings.name)
    if options.fresh and any(info.base_name != LEASE_FILE for info in sweep.list()):
        aside = root.join(f"{settings.name}.moved-{time.strftime('%Y%m%d-%H%M%S')}")
        sweep.move_to(aside)
        if lease is not None:
            aside.join(LEASE_FILE).delete()  # ours, moved with the folder: the folder aside has no driver
            lease.recreate()
        print(f"moved the old sweep aside to {aside.uri}")
    else:
        stored = stored_settings(sweep)
        stored = _moved_dataset_file(stored, settings) if stored else None
        differences = _differences(stored.to_document(), settings.to_document()) if stored else []
        if stored and not differences:
            check_versions(sweep, options.allow_version_change)
        if differences:
            raise SettingsError(
                f"a sweep named {settings.name!r} already exists in {root.uri} with other settings "
                f"({'; '.join(differences)}): resume it with the same file and flags, choose another --name, "
                "or pass --fresh to move the old sweep aside"
            )
    sweep.join(SETTINGS_FILE).write_text(sweep_file.render(settings.to_document()))
    return sweep


def resolve_sweep(settings: SweepSettings, options: RunOptions) -> str:
    """The sweep folder's URI, without touching storage."""
    from vaemodels import resolve

    return resolve(options.storage).join(settings.name).uri


def stored_settings(sweep: Location) -> SweepSettings | None:
    """The settings a sweep folder keeps (sweep.yaml, or an older version's sweep.json); None for a new sweep."""
    stored = sweep.join(SETTINGS_FILE)
    if stored.exists():
        parsed = sweep_file.parse_text(stored.read_text(), stored.uri)
        return SweepSettings.from_file(parsed, stored.uri)
    old = sweep.join(OLD_SETTINGS_FILE)
    return SweepSettings.from_json(old.read_json()) if old.exists() else None


def _check_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".latentsweep-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        from vaemodels import StorageError

        raise StorageError(f"--storage {path}: not writable ({error.strerror or error})") from error


def _moved_dataset_file(stored: SweepSettings, settings: SweepSettings) -> SweepSettings:
    """The stored settings pointed to the new --dataset-file when only its path differs: a moved or copied file of
    the same size and sha256 is the same dataset, so a resume may read it there (and records the new path). A file
    of other content is refused as any other changed setting is."""
    old, new = stored.dataset_file, settings.dataset_file
    if old is None or new is None or old == new or dataclasses.replace(old, path=new.path) != new:
        return stored
    print(f"dataset {new.name!r}: the recorded file {old.path} is now read from {new.path} (same size and sha256)")
    return dataclasses.replace(stored, dataset_file=new)


def _differences(stored: Any, current: Any, path: str = "") -> list[str]:
    """Where two sweep documents differ, by dotted key ("parameters.beta.max: stored 8.0, now 16.0")."""
    if isinstance(stored, dict) and isinstance(current, dict):
        keys = [k for k in dict.fromkeys([*stored, *current]) if k != "description"]
        return [line for k in keys for line in _differences(stored.get(k), current.get(k), f"{path}{k}.")]
    if stored == current:
        return []
    return [f"{path.rstrip('.') or 'settings'}: stored {_shown(stored)}, now {_shown(current)}"]


def _shown(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def sweep_command(args: argparse.Namespace) -> int:
    """`latentsweep sweep`: validate everything, hold the sweep folder's lease, then run or resume the sweep."""
    from vaemodels import DATASETS, hold_lease, refuse_float_pixels

    settings, options = settings_from_args(args)  # a SettingsError or StorageError: `latentsweep sweep: ...`
    if settings.confirm:  # checked before anything is written: a refusal leaves no trace
        from sweeps.plan import plan_lines

        print("\n".join(plan_lines(settings, resolve_sweep(settings, options))))
        if not args.yes:
            raise SettingsError(f"{settings.name} is a large sweep (above): pass --yes to start it, or --quick")
    refuse_float_pixels(DATASETS[settings.dataset])  # not in every trial's first epoch, after Ray started
    sweep = open_sweep(settings, options)
    # Before anything is written (--fresh's move included) and before Ray starts: a second driver on this folder
    # would delete the first one's checkpoints, so it refuses here with the holder's line.
    with hold_lease(sweep, options.take_over) as lease:
        prepare_storage(settings, options, lease)
        auth.ensure_auth_env()  # before `import ray`, which reads RAY_AUTH_MODE
        from sweeps.tuner import run_sweep

        return run_sweep(settings, options, sweep, lease=lease)


def open_sweep(settings: SweepSettings, options: RunOptions) -> Location:
    """The sweep folder, its storage root checked writable (a clear line rather than the lease's OSError)."""
    from vaemodels import resolve

    root = resolve(options.storage)
    if root.is_local:
        _check_writable(Path(root.path))
    return root.join(settings.name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python sweeps/run.py`."""
    parser = CommandParser(prog="sweeps/run.py", description=__doc__.splitlines()[0])
    add_sweep_flags(parser)
    try:
        return sweep_command(parser.parse_args(argv))
    except UserError as error:
        print(f"latentsweep sweep: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
