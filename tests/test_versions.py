"""A resume under another minor version of ray or optuna, whose pickles the sweep folder holds, is refused in one
line before anything is written or Ray starts, unless --allow-version-change."""

from __future__ import annotations

import pandas as pd
import pytest

from sweeps import sweep_file
from sweeps.settings import SettingsError, make_settings
from sweeps.versions import check_versions, installed_versions
from vaemodels.storage import resolve
from vaemodels.trials_table import write_trials_table


def stored_sweep(storage, versions: dict[str, str]):
    """A sweep folder as a stopped driver leaves it: the quick preset's sweep.yaml and a table made with `versions`."""
    settings = make_settings("quick")
    sweep = resolve(storage).join(settings.name)
    sweep.join("sweep.yaml").write_text(sweep_file.render(settings.to_document()))
    frame = pd.DataFrame({"trial_id": ["t0"], "status": ["RUNNING"]})
    write_trials_table(sweep, frame, {"versions": {**installed_versions(), **versions}})
    return sweep


def test_a_resume_under_another_minor_ray_version_is_refused_before_anything_is_written(tmp_path, cli, monkeypatch):
    sweep = stored_sweep(tmp_path, {"ray": "2.59.1"})
    before = {info.base_name: sweep.join(info.base_name).read_bytes() for info in sweep.list()}
    monkeypatch.setattr("sweeps.tuner.run_sweep", lambda *args, **kwargs: pytest.fail("Ray must not start"))
    done = cli("sweep", "--storage", str(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    installed = installed_versions()["ray"]
    assert f"was made with ray 2.59.1 (now {installed})" in done.stderr and "--allow-version-change" in done.stderr
    assert {info.base_name: sweep.join(info.base_name).read_bytes() for info in sweep.list()} == before


def test_the_same_minor_versions_or_the_flag_let_a_resume_go_on(tmp_path):
    ray, optuna = installed_versions()["ray"], installed_versions()["optuna"]
    patch = ".".join([*ray.split(".")[:2], "99"])  # another patch release of the same minor
    check_versions(stored_sweep(tmp_path / "a", {"ray": patch, "optuna": optuna}))
    changed = stored_sweep(tmp_path / "b", {"optuna": "4.5.0"})
    with pytest.raises(SettingsError, match=r"optuna 4\.5\.0"):
        check_versions(changed)
    check_versions(changed, allowed=True)
