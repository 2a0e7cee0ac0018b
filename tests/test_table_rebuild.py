"""trials.parquet is rebuilt only on proof of damage, loses nothing when it is, and only a holder of the sweep
(the driver, `metrics`) writes the rebuild back; a read that fails without proof writes nothing."""

from __future__ import annotations

import math

import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.helpers.sweeps import SWEEP_NAME
from vaemodels import trials_table
from vaemodels.storage import resolve
from vaemodels.table_rebuild import load_or_rebuild
from vaemodels.trials_table import (
    DAMAGED_PREFIX,
    REBUILD_MARKS,
    SIDECAR_FILE,
    TableUnreadable,
    read_trials_table,
    write_trials_table,
)

NOT_PARQUET = b"this is not a Parquet table"


@pytest.fixture
def finished(results_copy):
    """The six-trial sweep, with UDR filled as the driver writes it after a sweep of several seeds."""
    sweep = resolve(results_copy / SWEEP_NAME)
    frame, metadata = read_trials_table(sweep)
    frame["udr"] = [0.1 * (i + 1) if i % 3 else math.nan for i in range(len(frame))]
    frame["udr_pairs"] = [0 if i % 3 == 0 else 2 for i in range(len(frame))]
    write_trials_table(sweep, frame, metadata)
    return sweep


def same(left, right) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if hasattr(left, "tolist") or hasattr(right, "tolist"):
        return list(pd.Series(left).tolist()) == list(pd.Series(right).tolist())
    return left == right or (pd.isna(left) is True and pd.isna(right) is True)


def test_a_rebuild_of_a_finished_sweep_restores_every_column_and_every_metadata_key(finished):
    original, metadata = read_trials_table(finished)
    finished.join("trials.parquet").write_bytes(NOT_PARQUET)
    warnings: list[str] = []
    load_or_rebuild(finished, warn=warnings.append, write=True)
    rebuilt, rebuilt_metadata = read_trials_table(finished)
    assert "is not a Parquet table" in warnings[0]
    assert set(rebuilt.columns) == set(original.columns)
    left, right = (frame.set_index("trial_id").sort_index() for frame in (original, rebuilt))
    differing = [
        (column, trial)
        for column in left.columns
        for trial in left.index
        if not same(left.at[trial, column], right.at[trial, column])
    ]
    assert differing == []
    assert set(rebuilt_metadata) - set(metadata) == set(REBUILD_MARKS)
    assert {key: rebuilt_metadata[key] for key in metadata} == metadata
    aside = [info.base_name for info in finished.list() if info.base_name.startswith(DAMAGED_PREFIX)]
    assert len(aside) == 1 and finished.join(aside[0]).read_bytes() == NOT_PARQUET  # kept, not lost


def test_a_read_that_fails_without_proof_is_retried_then_reported_and_nothing_is_written(finished, monkeypatch):
    before = {info.base_name: finished.join(info.base_name).read_bytes() for info in finished.list() if info.size}
    calls = []

    def stale_handle(*args, **kwargs):
        calls.append(args)
        raise OSError(116, "Stale file handle")

    monkeypatch.setattr(trials_table, "READ_PAUSE", 0.0)
    monkeypatch.setattr(pq, "read_table", stale_handle)
    with pytest.raises(TableUnreadable, match=r"Stale file handle.*nothing was written"):
        load_or_rebuild(finished, write=True)
    assert len(calls) == trials_table.READ_ATTEMPTS
    after = {info.base_name: finished.join(info.base_name).read_bytes() for info in finished.list() if info.size}
    assert after == before  # no rebuild, no file set aside, the sidecar untouched


def test_one_transient_failure_is_retried_and_the_table_read(finished, monkeypatch):
    real, failures = pq.read_table, ["once"]

    def flaky(*args, **kwargs):
        if failures:
            failures.pop()
            raise OSError("connection reset")
        return real(*args, **kwargs)

    monkeypatch.setattr(trials_table, "READ_PAUSE", 0.0)
    monkeypatch.setattr(pq, "read_table", flaky)
    frame, metadata = load_or_rebuild(finished, write=True)
    assert len(frame) == 6 and "rebuilt" not in metadata


def test_a_command_without_the_sweep_rebuilds_in_memory_and_writes_nothing(finished, cli):
    finished.join("trials.parquet").write_bytes(NOT_PARQUET)
    sidecar = finished.join(SIDECAR_FILE).read_bytes()
    shown = cli("best", finished.path)
    assert shown.returncode == 0 and "(in memory only)" in shown.stderr
    assert finished.join("trials.parquet").read_bytes() == NOT_PARQUET
    assert finished.join(SIDECAR_FILE).read_bytes() == sidecar
    assert not [info for info in finished.list() if info.base_name.startswith(DAMAGED_PREFIX)]
