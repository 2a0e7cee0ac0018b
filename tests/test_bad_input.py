"""Bad input, case by case: every user mistake is one line on stderr, exit 2, no traceback, and nothing written.

Each table row is (case id, what the user gave, a fragment of the line printed). The sweep cases never reach Ray:
`sweeps.tuner` is replaced by a module whose run_sweep fails the test, so a refusal that came only once Ray had
started (after sweep.yaml was written) shows up as that failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Valid as a sweep file (a description) until its aliases expand: 10**5 scalars
ALIAS_BOMB = (
    "description: [&a [x, x, x, x, x, x, x, x, x, x]"
    + "".join(f", &{name} [{', '.join([f'*{previous}'] * 10)}]" for previous, name in zip("abcd", "bcde"))
    + "]\n"
)

# (case id, flags after `latentsweep sweep --storage S --name t`, a fragment of the line printed)
SWEEP_FLAGS = [
    ("seed-negative", ["--seed", "-1"], "--seed -1: must be an integer from 0 to 4294967295"),
    ("seed-too-large", ["--seed", str(2**32)], f"--seed {2**32}: must be an integer from 0 to 4294967295"),
    ("cpus-nan", ["--cpus-per-trial", "nan"], "--cpus-per-trial nan: must be a finite number > 0"),
    ("gpus-nan", ["--gpus-per-trial", "nan"], "--gpus-per-trial nan: must be a finite number >= 0"),
    ("max-concurrent-negative", ["--max-concurrent", "-3"], "--max-concurrent -3: must be >= 1"),
    ("max-failures-negative", ["--max-failures", "-1"], "--max-failures -1: must be >= 0"),
    ("epochs-huge", ["--epochs", str(2**63)], "epochs=9223372036854775808 is invalid: expected an integer from 1"),
    ("metric-after-trial", ["--metric", "dci_disentanglement"], "--metric dci_disentanglement: not in every epoch"),
    ("name-parent", ["--name", "../outside"], "--name ../outside: a single folder name"),
    ("name-dotdot-fresh", ["--name", "..", "--fresh"], "--name ..: a single folder name"),
    ("name-dot", ["--name", "."], "--name .: a single folder name"),
    ("lr-negative", ["--lr", "-1"], "--lr: lr=-1.0 is invalid: expected a float > 0"),
    ("lr-inf", ["--lr", "inf"], "--lr inf: not a finite number"),
    ("lr-nan", ["--lr", "nan"], "--lr nan: not a finite number"),
    ("betas-nan", ["--betas", "1,nan"], "--betas 1.0,nan: every value must be a finite number"),
    ("data-dir-nul", ["--data-dir", "a\0b"], "--data-dir 'a\\x00b': not a path"),
]

# (case id, the sweep file's text, a fragment of the line printed); the file is passed with --config
SWEEP_FILES = [
    ("fixed-dataset-list", "fixed: {dataset: [a, b]}\n", "s.yaml:1: fixed.dataset: ['a', 'b']: expected one value"),
    ("fixed-data-dir-nul", 'fixed: {data_dir: "\\0"}\n', "s.yaml:1: fixed.data_dir: '\\x00': not a path"),
    ("fixed-lr-nan", "fixed: {lr: .nan}\n", "s.yaml:1: fixed.lr: nan: not a finite number"),
    ("fixed-lr-inf", "fixed: {lr: .inf}\n", "s.yaml:1: fixed.lr: inf: not a finite number"),
    ("values-lr-nan", "parameters: {lr: {values: [.nan]}}\n", "s.yaml:1: parameters.lr: nan: not a finite number"),
    ("file-seed-huge", f"seed: {2**40}\n", f"s.yaml:1: seed {2**40}: must be an integer from 0 to 4294967295"),
    ("file-metric", "metric: {name: dci_completeness}\n", "s.yaml:1: metric dci_completeness: not in every epoch"),
    ("file-name-dotdot", "name: '..'\n", "s.yaml:1: name: '..': a single folder name"),
    ("file-name-dot", "name: '.'\n", "s.yaml:1: name: '.': a single folder name"),
    ("alias-bomb", ALIAS_BOMB, "s.yaml: the document expands beyond 10000 YAML nodes"),
    ("alias-recursive", "description: &a [*a]\n", "s.yaml: a YAML alias refers to a node that contains it"),
]


# (case id, a command's arguments ({tmp}: the test's folder), a fragment of the line printed): nothing is written
COMMANDS = [
    ("origin-wildcard", ["explore", "{tmp}", "--host", "0.0.0.0", "--allow-origin", "*"], "--allow-origin: '*': give"),
    ("origin-url", ["explore", "{tmp}", "--allow-origin", "http://a.example/x"], "'http://a.example/x': give HOST"),
    ("watch-nan", ["status", "{tmp}/ok", "--watch", "nan"], "--watch nan: give the seconds between refreshes, a"),
    ("watch-inf", ["status", "{tmp}/ok", "--watch", "inf"], "--watch inf: give the seconds between refreshes, a"),
    ("study-out-file", ["study", "{tmp}/ok", "--out", "{tmp}/afile"], "--out {tmp}/afile: a file, not a folder"),
    ("export-no-folder", ["dashboard", "{tmp}/ok", "--export", "{tmp}/no/x.db"], "the folder {tmp}/no does not exist"),
    ("table-folder-best", ["best", "{tmp}/dir"], "{tmp}/dir/trials.parquet is a folder, not a file"),
    ("table-folder-status", ["status", "{tmp}/dir"], "{tmp}/dir/trials.parquet is a folder, not a file"),
    ("table-folder-study", ["study", "{tmp}/dir", "--out", "{tmp}/o"], "trials.parquet is a folder, not a file"),
    ("table-folder-dashboard", ["dashboard", "{tmp}/dir", "--export", "{tmp}/x.db"], "trials.parquet is a folder"),
]


def make_sweeps(tmp: Path) -> None:
    """{tmp}/ok: a sweep's table of one finished, scored trial; {tmp}/dir: a trials.parquet that is a folder beside a
    trial folder (a rebuild would have something to write); {tmp}/afile: a file."""
    import pandas as pd

    from sweeps.settings import make_settings
    from vaemodels import resolve, write_trials_table

    row = {"trial_id": "t0", "status": "TERMINATED", "arch": "vae", "beta": 1.0, "latent_dim": 2, "seed": 0}
    row |= {"best_loss": 1.0, "mig": 0.5, "problem": None, "error": None}
    (tmp / "ok").mkdir()
    write_trials_table(resolve(str(tmp / "ok")), pd.DataFrame([row]), {"settings": make_settings().to_json()})
    (tmp / "dir" / "trials.parquet").mkdir(parents=True)
    (tmp / "dir" / "trials.parquet" / "part-0.parquet").write_text("not parquet")
    (tmp / "dir" / "t0" / "checkpoint_000000").mkdir(parents=True)
    (tmp / "afile").write_text("a file")


# (case id, LATENTSWEEP_DATASETS, a command's arguments, its exit code, its stderr's lines (fragments)), run in a
# process of its own: the variable is read when vaemodels is first imported
DATASET_VARIABLE = [
    ("npz-not-a-zip-status", "foo={tmp}/afile", ["status", "{tmp}/ok"], 0, []),
    (
        "npz-not-a-zip-asked-for",
        "foo={tmp}/afile",
        ["sweep", "--dataset", "foo", "--storage", "{tmp}/results"],
        2,
        ["dataset='foo' is unavailable: LATENTSWEEP_DATASETS entry 'foo={tmp}/afile': BadZipFile"],
    ),
    (
        "malformed-entry-drops-only-itself",
        "bad" + os.pathsep + "foo={tmp}/afile",
        ["sweep", "--dataset", "foo", "--storage", "{tmp}/results"],
        2,
        ["warning: LATENTSWEEP_DATASETS entry 'bad' is not NAME=PATH.npz: left out", "dataset='foo' is unavailable"],
    ),
]


@pytest.fixture
def storage(tmp_path, monkeypatch) -> Path:
    """A storage root that already holds one sweep; Ray is out of reach (a refusal must come before it)."""

    def run_sweep(*args, **kwargs):
        raise AssertionError("the command got as far as running the sweep: the input was accepted")

    monkeypatch.setitem(sys.modules, "sweeps.tuner", types.SimpleNamespace(run_sweep=run_sweep))
    root = tmp_path / "results"
    (root / "old").mkdir(parents=True)
    (root / "old" / "keep.txt").write_text("untouched")
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the tmp folder (the storage and its parent), with its bytes."""
    return {str(path): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def assert_refused(result, fragment: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(("flags", "fragment"), [case[1:] for case in SWEEP_FLAGS], ids=[c[0] for c in SWEEP_FLAGS])
def test_sweep_flags(cli, storage, flags, fragment):
    before = snapshot(storage.parent)
    assert_refused(cli("sweep", "--storage", str(storage), "--name", "t", *flags), fragment)
    assert snapshot(storage.parent) == before


@pytest.mark.parametrize(("text", "fragment"), [case[1:] for case in SWEEP_FILES], ids=[c[0] for c in SWEEP_FILES])
def test_sweep_files(cli, storage, tmp_path, text, fragment):
    config = tmp_path / "s.yaml"
    config.write_text(text)
    before = snapshot(storage.parent)
    assert_refused(cli("sweep", "--storage", str(storage), "--name", "t", "--config", str(config)), fragment)
    assert snapshot(storage.parent) == before


@pytest.mark.parametrize(("args", "fragment"), [case[1:] for case in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_commands(cli, capsys, tmp_path, args, fragment, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: pytest.fail(f"status waited {seconds} s"))
    make_sweeps(tmp_path)
    before = snapshot(tmp_path)
    args, fragment = [arg.format(tmp=tmp_path) for arg in args], fragment.format(tmp=tmp_path)
    try:
        result = cli(*args)
    except SystemExit as stop:  # argparse's refusals exit from inside the parser
        result = subprocess.CompletedProcess(args, stop.code, *capsys.readouterr())
    assert_refused(result, fragment)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("variable", "args", "code", "lines"), [c[1:] for c in DATASET_VARIABLE], ids=[c[0] for c in DATASET_VARIABLE]
)
def test_dataset_variable(tmp_path, variable, args, code, lines):
    make_sweeps(tmp_path)
    before = snapshot(tmp_path)
    env = {**os.environ, "LATENTSWEEP_DATASETS": variable.format(tmp=tmp_path), "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "vaemodels.cli", *(arg.format(tmp=tmp_path) for arg in args)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    printed = result.stderr.splitlines()
    assert len(printed) == len(lines) and all(line.format(tmp=tmp_path) in p for line, p in zip(lines, printed))
    assert snapshot(tmp_path) == before


def test_stored_sweep_file_with_an_alias_bomb(cli, storage):
    stored = storage / "old" / "sweep.yaml"
    stored.write_text(ALIAS_BOMB)
    before = snapshot(storage.parent)
    assert_refused(
        cli("sweep", "--storage", str(storage), "--name", "old"), "sweep.yaml: the document expands beyond 10000"
    )
    assert snapshot(storage.parent) == before


# ---- paths a summary.json or trials.parquet names: never followed outside the sweep folder

OUTSIDE_PATHS = [("parent", "../outside/checkpoint"), ("absolute", "{tmp}/outside/checkpoint")]


@pytest.mark.parametrize("path", [case[1] for case in OUTSIDE_PATHS], ids=[case[0] for case in OUTSIDE_PATHS])
def test_best_passes_over_a_table_path_outside_the_sweep(cli, tmp_path, path):
    import pandas as pd

    path = path.format(tmp=tmp_path)
    sweep, outside = tmp_path / "sweep", tmp_path / "outside" / "checkpoint"
    sweep.mkdir()
    outside.mkdir(parents=True)
    row = {"trial_id": "t0", "status": "TERMINATED", "best_loss": 1.0, "checkpoint_path": path, "problem": None}
    pd.DataFrame([row]).to_parquet(sweep / "trials.parquet")
    result = cli("best", str(sweep), "--export", str(tmp_path / "exported"))
    assert "Traceback" not in result.stderr
    assert f"damaged trial t0: checkpoint_path {path!r}" in result.stderr and "not followed" in result.stderr
    assert "model.pt" not in result.stderr  # its files were not even looked at
    assert not (tmp_path / "exported").exists()


@pytest.mark.parametrize("path", [case[1] for case in OUTSIDE_PATHS], ids=[case[0] for case in OUTSIDE_PATHS])
def test_best_checkpoint_never_follows_a_summary_outside_the_trial(tmp_path, path):
    import json

    from vaemodels.checkpoint import best_checkpoint

    trial, outside = tmp_path / "sweep" / "t0", tmp_path / "sweep" / "outside" / "checkpoint"
    outside.mkdir(parents=True)
    (outside / "config.json").write_text("{}")
    inside = trial / "checkpoint_000000"
    inside.mkdir(parents=True)
    (inside / "config.json").write_text("{}")
    (inside / "history.json").write_text(json.dumps([{"epoch": 1, "loss": 1.0}]))
    summary_path = "../outside/checkpoint" if path.startswith("..") else str(outside)
    (inside / "summary.json").write_text(json.dumps({"checkpoint_path": summary_path}))
    assert best_checkpoint(trial).path == str(inside)
