"""A resume under other versions of the libraries whose objects the sweep folder pickles (Ray's Tune state, Optuna's
searcher) is refused: their pickles are not promised to load across minor versions, and a half-restored search is
worse than an error."""

from __future__ import annotations

from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any

from sweeps.settings import SettingsError

if TYPE_CHECKING:
    from vaemodels import Location

CHECKED = ("ray", "optuna")  # what the folder pickles: tuner.pkl and the experiment state (ray), the searcher (optuna)


def installed_versions() -> dict[str, str | None]:
    """The version of each package a sweep records in its table's metadata."""
    versions: dict[str, str | None] = {}
    for package in ("torch", "ray", "optuna", "scikit-learn", "latentsweep"):
        try:
            versions[package] = importlib_metadata.version(package)
        except importlib_metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def check_versions(sweep: Location, allowed: bool = False) -> None:
    """SettingsError (one line) when the stored sweep was made with another major or minor version of ray or
    optuna than the installed one, unless `allowed` (--allow-version-change)."""
    stored = _stored_versions(sweep)
    now = installed_versions()
    changed = [
        f"{package} {stored[package]} (now {now[package]})"
        for package in CHECKED
        if stored.get(package) and now.get(package) and _minor(stored[package]) != _minor(now[package])
    ]
    if changed and not allowed:
        raise SettingsError(
            f"{sweep.uri} was made with {', '.join(changed)}: its pickled Tune and Optuna state may not load under "
            "these versions; install those versions to resume it, or pass --allow-version-change to try anyway"
        )


def _stored_versions(sweep: Location) -> dict[str, Any]:
    from vaemodels import TableDamaged, read_sidecar, read_trials_table  # pyarrow: not for `--help`

    try:
        return dict(read_trials_table(sweep)[1].get("versions") or {})
    except (FileNotFoundError, TableDamaged, OSError):
        return dict(read_sidecar(sweep)[0].get("versions") or {})


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])
