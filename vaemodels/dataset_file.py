"""A sweep's own dataset file (a factor_npz .npz): recorded in its settings, registered again from that record.

`latentsweep sweep --dataset-file PATH` (or a sweep file's `fixed: {dataset: {file: PATH}}`) records the file's
absolute path, size and sha256 in sweep.yaml and in trials.parquet's settings metadata (which the sidecar keeps for a
rebuild). Every later command that reads the sweep, and every Ray worker, registers the dataset from that record, so
no environment variable is needed; a file that moved or changed since gives one line naming the recorded path and what
differs. Light enough for `latentsweep --help`: numpy and yaml are imported only when a record is used.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaemodels.dataset_registry import DATASETS, UNAVAILABLE, register_factor_npz
from vaemodels.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

    from vaemodels.storage import Location

__all__ = ["DatasetFile", "DatasetFileError", "recorded_dataset_file", "register_dataset_file", "use_recorded_dataset"]

SWEEP_SETTINGS_FILE = "sweep.yaml"  # where a sweep folder keeps its settings (sweeps/run.py writes it)


class DatasetFileError(UserError):
    """A recorded dataset file that is missing, changed, or clashes with a dataset registered otherwise."""


@dataclass(frozen=True)
class DatasetFile:
    """A dataset file as a sweep recorded it: the dataset's name, the file's absolute path, its size and sha256."""

    name: str
    path: str
    size: int
    sha256: str

    @classmethod
    def measure(cls, path: str | Path, name: str | None = None, where: str = "--dataset-file") -> DatasetFile:
        """The record of the file as it is now; `name` defaults to the file's stem. `where` names it in errors."""
        absolute = Path(path).expanduser().absolute()  # as factor_npz_spec keeps it, so that the two compare
        if not absolute.is_file():
            raise DatasetFileError(f"{where} {path}: no such file")
        if name is not None and not name.strip():
            raise DatasetFileError(f"{where} {path}: the dataset's name is empty")
        stat = absolute.stat()
        digest = _sha256(str(absolute), stat.st_size, stat.st_mtime_ns)
        return cls(name or absolute.stem, str(absolute), stat.st_size, digest)

    @classmethod
    def from_entry(cls, entry: dict[str, Any], base_dir: Path | None = None) -> DatasetFile:
        """A sweep file's `dataset: {file: PATH.npz, name: NAME}` (name: the file's stem; a relative path: from
        base_dir, the sweep file's folder), measured now; a stored sweep.yaml's entry also holds the size and sha256
        it was recorded with, kept as they are. DatasetFileError says what is wrong, for the caller to place."""
        unknown = sorted(set(entry) - {"file", "name", "size", "sha256"})
        path, name = entry.get("file"), entry.get("name")
        if unknown or not isinstance(path, str) or not path:
            raise DatasetFileError("a dataset file is {file: PATH.npz, name: NAME} (name optional: the file's stem)")
        if name is not None and not (isinstance(name, str) and name.strip()):
            raise DatasetFileError(f"name {name!r}: not a dataset name")
        full = Path(path).expanduser()
        full = base_dir / full if base_dir is not None else full.absolute()
        if "size" not in entry and "sha256" not in entry:
            return cls.measure(full, name, where="file")
        record = cls.from_document({**entry, "file": str(full), "name": name or full.stem})
        if record is None:
            raise DatasetFileError("size and sha256 go together: an integer and a hex digest, as sweep.yaml has them")
        return record

    def problem(self, path: str | None = None) -> str | None:
        """What differs between the record and the file at `path` (default: the recorded one); None when nothing."""
        where = Path(path or self.path)
        try:
            stat = where.stat()
        except FileNotFoundError:
            return "missing"
        except OSError as error:
            return f"unreadable ({error.strerror or error})"
        if stat.st_size != self.size:
            return f"size {self.size:,} bytes, now {stat.st_size:,}"
        if _sha256(str(where), stat.st_size, stat.st_mtime_ns) != self.sha256:
            return "fingerprint differs (sha256): same size, other content"
        return None

    def to_document(self) -> dict[str, Any]:
        """The record as sweep.yaml's `fixed.dataset` (and the table's settings metadata) hold it."""
        return {"file": self.path, "name": self.name, "size": self.size, "sha256": self.sha256}

    @classmethod
    def from_document(cls, document: Any) -> DatasetFile | None:
        """A record as `to_document` wrote it; None for anything else (a plain dataset name, an older sweep)."""
        if not isinstance(document, dict):
            return None
        path, name, size, digest = (document.get(key) for key in ("file", "name", "size", "sha256"))
        if not (isinstance(path, str) and isinstance(name, str) and isinstance(digest, str)):
            return None
        if not isinstance(size, int) or isinstance(size, bool):
            return None
        return cls(name, path, size, digest)


# sha256 of the whole file: a copy keeps it (a moved file can be pointed to again) and any change of content alters
# it, which no cheaper stamp (mtime, a sampled hash) promises. It costs one read of the file, which every loader reads
# whole anyway, and is cached per process while the file's size and modification time stay the same.
@functools.lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def register_dataset_file(record: DatasetFile) -> None:
    """Register the record's dataset in this process, once; DatasetFileError with one line when the file moved or
    changed, or when the name is registered from another file whose content differs."""
    registered = DATASETS.get(record.name)
    elsewhere = registered is not None and registered.data_file != record.path
    if elsewhere:  # a built-in, a plugin's, LATENTSWEEP_DATASETS', or this record's file before it moved here
        clash = record.problem(registered.data_file) if registered.data_file else "a dataset of its own"
        if clash is None:
            return  # the same content at another path (LATENTSWEEP_DATASETS naming a copy): that copy serves
        if registered.data_file is None or Path(registered.data_file).exists():
            raise DatasetFileError(
                f"dataset {record.name!r} is already registered ({registered.data_file or 'built in'}: {clash}), "
                f"so {record.path} needs another name (--dataset NAME, or name: in a sweep file)"
            )
    problem = record.problem()  # cached: a stat once the file was hashed
    if problem:
        remedy = "copy it back, or resume with --dataset-file NEW_PATH" if problem == "missing" else "put back the file"
        raise DatasetFileError(f"dataset {record.name!r}: recorded file {record.path}: {problem} ({remedy})")
    if registered is None or elsewhere:
        DATASETS.pop(record.name, None)  # registered from a file since gone: registered again from where it is now
        try:
            register_factor_npz(record.name, record.path)
        except (OSError, ValueError) as error:
            raise DatasetFileError(f"dataset {record.name!r}: recorded file {record.path}: {error}") from error


def recorded_dataset_file(sweep: Location, metadata: dict[str, Any] | None = None) -> DatasetFile | None:
    """The sweep's dataset file record: from the table's settings metadata, else from its sweep.yaml; None when the
    sweep trains on a registered dataset (or its settings cannot be read)."""
    settings = (metadata or {}).get("settings")
    if not isinstance(settings, dict):
        settings = _read_settings_file(sweep)
    fixed = settings.get("fixed") if isinstance(settings, dict) else None
    return DatasetFile.from_document(fixed.get("dataset")) if isinstance(fixed, dict) else None


def _read_settings_file(sweep: Location) -> Any:
    import yaml

    try:
        return yaml.safe_load(sweep.join(SWEEP_SETTINGS_FILE).read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None  # no sweep.yaml (a folder of `train --out` runs) or an unreadable one: no record to use


def use_recorded_dataset(
    sweep: Location, metadata: dict[str, Any] | None = None, warn: Callable[[str], None] | None = None
) -> DatasetFile | None:
    """Register the dataset file a sweep recorded (see recorded_dataset_file), if any. A file that moved or changed is
    no error here (ranking needs no images): its line goes to `warn` and to UNAVAILABLE, so that what needs the data
    fails with that line."""
    record = recorded_dataset_file(sweep, metadata)
    if record is None:
        return None
    try:
        register_dataset_file(record)
    except DatasetFileError as error:
        UNAVAILABLE[record.name] = str(error).removeprefix(f"dataset {record.name!r}: ")  # config names the dataset
        if warn is not None:
            warn(str(error))
    return record
