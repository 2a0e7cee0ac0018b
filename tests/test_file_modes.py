"""Files the project writes into a sweep folder get the modes of the user's umask, as Ray's own files do: on
storage shared between accounts, another user's `best`, `status` and `explore` read them."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from vaemodels.storage import resolve
from vaemodels.trials_table import write_trials_table


@pytest.fixture(params=[0o022, 0o002], ids=["umask-0022", "umask-0002"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_every_file_written_through_the_storage_layer_has_the_umasks_mode(tmp_path, umask):
    expected = 0o666 & ~umask  # 0644 or 0664
    sweep = resolve(tmp_path / "sweep")
    sweep.join("trial", "checkpoint_000000", "scores.json").write_text("{}")  # a score cache
    sweep.join("sweep.yaml").write_text("name: x\n")
    write_trials_table(sweep, pd.DataFrame({"trial_id": ["a"], "best_loss": [1.0]}), {"metric": "loss"})
    written = [tmp_path / "sweep" / "trial" / "checkpoint_000000" / "scores.json"]
    written += [tmp_path / "sweep" / "sweep.yaml", tmp_path / "sweep" / "trials.parquet"]
    assert [oct(mode(path)) for path in written] == [oct(expected)] * 3
    (tmp_path / "sweep" / "ray_like.txt").write_text("what any other tool writes")
    assert mode(tmp_path / "sweep" / "ray_like.txt") == expected


def test_the_lease_file_has_the_umasks_mode_too(tmp_path, umask):
    from vaemodels.lease import LEASE_FILE, acquire_lease

    lease = acquire_lease(resolve(tmp_path / "sweep"))
    try:
        assert mode(tmp_path / "sweep" / LEASE_FILE) == 0o666 & ~umask  # other accounts' drivers read its holder
    finally:
        lease.release()
