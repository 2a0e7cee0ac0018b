"""`latentsweep dashboard SWEEP`: optuna-dashboard on a sweep, live while it runs; `--export FILE` writes the study.

The study is built from trials.parquet (sweeps/study.py) into a local SQLite file, and brought up to date
whenever the table changes, so the sweep may live on a local disk, NFS or a bucket.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from sweeps.settings import SweepSettings
from sweeps.status import read_table
from sweeps.study import StudyMirror
from vaemodels import TRIALS_FILE, Location, UserError, resolve

REFRESH_SECONDS = 5.0


def dashboard_command(args: argparse.Namespace) -> int:
    """Export the study, or serve optuna-dashboard on it (refreshed from the table) until Ctrl-C."""
    sweep = resolve(args.sweep_dir)
    target = Path(args.export).expanduser().resolve() if args.export else None
    if target is not None and target.exists():
        raise UserError(f"--export {target} already exists; choose another file")
    if target is not None and not target.parent.is_dir():  # SQLite would fail only once the study is built
        raise UserError(f"--export {target}: the folder {target.parent} does not exist; create it first")
    frame, metadata, stamp = _read(sweep)
    settings = SweepSettings.from_json(metadata.get("settings"))
    if target is not None:
        StudyMirror(f"sqlite:///{target}", settings).sync(frame)
        print(f"wrote study {settings.name!r} ({len(frame)} trials) to {target}")
        print(f"open it with: optuna-dashboard sqlite:///{target}")
        return 0
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise UserError('optuna-dashboard is not installed: pip install -e ".[dashboard]"') from None
    folder = tempfile.mkdtemp(prefix="latentsweep-study-")
    try:
        url = f"sqlite:///{folder}/study.db"
        mirror = StudyMirror(url, settings)
        mirror.sync(frame)
        threading.Thread(target=_follow, args=(sweep, mirror, stamp), daemon=True).start()
        print(f"latentsweep dashboard: {sweep.uri} at http://{args.host}:{args.port}/ (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            run_server(url, host=args.host, port=args.port)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the study is a copy of the table: nothing of the user's
    return 0


def _read(sweep: Location):
    """trials.parquet, its metadata and the modification time the table was read at."""
    stamp = sweep.join(TRIALS_FILE).info().mtime_ns
    return (*read_table(sweep), stamp)


def _follow(sweep: Location, mirror: StudyMirror, stamp: int) -> None:
    """Sync the study whenever trials.parquet changes (polled; a bucket has no change notifications)."""
    while True:
        time.sleep(REFRESH_SECONDS)
        try:
            now = sweep.join(TRIALS_FILE).info().mtime_ns
            if now != stamp:
                frame, _, stamp = _read(sweep)
                mirror.sync(frame)
        except (OSError, UserError):
            continue  # mid-write or briefly unreachable: the next poll tries again
        except Exception as error:  # anything else: say so once a poll, and keep following (the page stays up)
            print(f"warning: the dashboard cannot sync {sweep.uri}: {type(error).__name__}: {error}", file=sys.stderr)
