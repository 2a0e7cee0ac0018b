"""trials.parquet: one row a trial. The sweep's driver writes it from memory; without it, it is rebuilt from the
trial folders, one summary.json a trial (the old layout, schema 1, from every checkpoint's history).
"""

from __future__ import annotations

import io
import json
import posixpath
import time
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vaemodels import trial_folder as tf
from vaemodels.config import CONFIG_KEYS, DATA_SEED_SCHEMA, SCHEMA_VERSION
from vaemodels.errors import UserError
from vaemodels.metric_names import LATENT_METRICS, SCORE_KEYS, UDR_KEYS
from vaemodels.storage import Location

TRIALS_FILE = "trials.parquet"
# The table's key-value metadata (the sweep's settings, versions, score protocol) and the columns that only the
# whole sweep knows (UDR), beside it: what a rebuild from the trial folders restores. Written when they change.
SIDECAR_FILE = "trials.meta.json"
DAMAGED_PREFIX = f"{TRIALS_FILE}.damaged-"  # a table that was not Parquet, kept aside (with the time) when rebuilt
READ_ATTEMPTS, READ_PAUSE = 3, 0.5  # a read that fails without proof of damage is tried again, then reported
LEADING_COLUMNS = ("trial_id", "status", "stopped_early", "diverged", "error", "problem")
# Present even when no trial has written a checkpoint yet.
REQUIRED_COLUMNS = (
    "best_loss",
    "best_epoch",
    "epochs_trained",
    "loss",
    "val_kl_per_dim",
    *LATENT_METRICS,
    *SCORE_KEYS,
    *UDR_KEYS,
    "node",
    "device",
    "checkpoint_path",
    "latents_path",
    "last_checkpoint_path",
)
PATH_COLUMNS = ("checkpoint_path", "latents_path", "last_checkpoint_path")
STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PENDING")
_ROW_KEYS = {"schema_version"}  # summary keys that are not columns


class TableDamaged(ValueError):
    """trials.parquet exists but is provably not a Parquet table (bad magic, footer or schema); the message names
    the file."""


class TableUnreadable(UserError, OSError):
    """trials.parquet could not be read, with no proof that it is damaged (a permission, a network, a stale
    handle): nothing is rebuilt or written; the message names the file and the error."""


# ---- rows ---------------------------------------------------------------------------------------------------------


def row_from_summary(trial_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A trials.parquet row from a checkpoint's summary: its paths made relative to the sweep folder."""
    row = {key: value for key, value in summary.items() if key not in _ROW_KEYS}
    if summary.get("schema_version", 1) < DATA_SEED_SCHEMA and "seed" in row:
        row.setdefault("data_seed", row["seed"])  # made before data_seed: its data came from `seed`
    row["trial_id"] = trial_id
    for column in PATH_COLUMNS:
        if isinstance(row.get(column), str):
            row[column] = posixpath.join(trial_id, row[column])
    row.setdefault("error", None)
    row.setdefault("problem", None)
    return row


def pending_row(trial_id: str, config: dict[str, Any], status: str = "RUNNING") -> dict[str, Any]:
    """The row of a trial that has not written a checkpoint yet."""
    return {"trial_id": trial_id, "status": status, "stopped_early": False, "diverged": False, "error": None,
            "problem": None, "epochs_trained": 0, **{key: config.get(key) for key in CONFIG_KEYS}}  # fmt: skip


def frame_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table in its column order (contract columns first, missing ones null), best `best_loss` first."""
    frame = pd.DataFrame(rows)
    ordered = [*LEADING_COLUMNS, *CONFIG_KEYS, *REQUIRED_COLUMNS]
    frame = frame.reindex(columns=ordered + [c for c in frame.columns if c not in ordered])
    if frame.empty:
        return frame
    return frame.sort_values("best_loss", na_position="last", kind="stable").reset_index(drop=True)


# ---- trials.parquet -------------------------------------------------------------------------------------------------


def write_trials_table(sweep: Location, frame: pd.DataFrame | pa.Table, metadata: dict[str, Any]) -> None:
    """Replace trials.parquet whole: a rename on a local disk, one PUT on a bucket (a move there is a copy)."""
    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    meta = {k.encode(): json.dumps(v).encode() for k, v in {**metadata, "schema_version": SCHEMA_VERSION}.items()}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})
    buffer = io.BytesIO()
    # No dictionaries and no column statistics: a table of a few thousand rows is read whole anyway, and they
    # doubled the time of the driver's most frequent write (6.0 -> 2.9 ms at 2,000 rows, measured here).
    pq.write_table(table, buffer, use_dictionary=False, write_statistics=False)
    sweep.join(TRIALS_FILE).write_bytes(buffer.getvalue())
    write_sidecar(sweep, metadata, table)


_sidecars: dict[str, str] = {}  # sweep URI -> the sidecar last written by this process: rewritten only on a change


def write_sidecar(sweep: Location, metadata: dict[str, Any], table: pa.Table) -> None:
    """trials.meta.json: the metadata (what marks a rebuild left out) and each trial's UDR columns."""
    kept = {key: value for key, value in metadata.items() if key not in REBUILD_MARKS}
    udr: dict[str, list[Any]] = {}
    if set(UDR_KEYS) <= set(table.column_names):
        ids, scores, pairs = (table[name].to_pylist() for name in ("trial_id", *UDR_KEYS))
        udr = {i: [score, pair] for i, score, pair in zip(ids, scores, pairs) if pair}
    text = json.dumps({"metadata": kept, "udr": udr}, sort_keys=True)
    if _sidecars.get(sweep.uri) != text:
        sweep.join(SIDECAR_FILE).write_text(text)
        _sidecars[sweep.uri] = text


def read_sidecar(sweep: Location) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The sidecar's metadata and UDR columns by trial ({} and {} when it is missing or unreadable)."""
    try:
        stored = sweep.join(SIDECAR_FILE).read_json()
        return dict(stored.get("metadata", {})), dict(stored.get("udr", {}))
    except (OSError, ValueError, AttributeError):
        return {}, {}


def remove_partial_writes(sweep: Location) -> list[str]:
    """Delete the temporary files of table writes a killed process left (`.trials.parquet.XXXX`, a local disk's
    only: a bucket's PUT leaves none); only the process that holds the sweep calls it. Returns their names."""
    if not sweep.is_local or not sweep.exists():
        return []
    partial = [info.base_name for info in sweep.list() if info.base_name.startswith(f".{TRIALS_FILE}.")]
    for name in partial:
        sweep.join(name).delete()
    return partial


def read_trials_table(sweep: Location) -> tuple[pd.DataFrame, dict[str, Any]]:
    """trials.parquet as a DataFrame and its decoded key-value metadata. FileNotFoundError when it is missing,
    TableDamaged when it is provably not a Parquet table, TableUnreadable when reading failed READ_ATTEMPTS times
    without that proof."""
    location = sweep.join(TRIALS_FILE)
    for attempt in range(READ_ATTEMPTS):
        try:
            table = pq.read_table(location.path, filesystem=sweep.fs)
            break
        except FileNotFoundError:
            raise
        except (pa.ArrowException, OSError, ValueError) as error:
            proof = _not_parquet(location)
            if proof:
                raise TableDamaged(f"{location.uri} is not a Parquet table ({proof})") from error
            if attempt + 1 == READ_ATTEMPTS:
                raise TableUnreadable(
                    f"{location.uri} cannot be read ({type(error).__name__}: {error}); it was not rebuilt, and "
                    "nothing was written"
                ) from error
            time.sleep(READ_PAUSE * (attempt + 1))
    metadata = _decoded(table.schema.metadata or {})
    frame = table.to_pandas()
    if "trial_id" not in frame.columns or "status" not in frame.columns:
        raise TableDamaged(f"{location.uri} has no trial_id or status column")
    for column in ("problem", "error", *PATH_COLUMNS):  # a table written by hand may lack them: empty, not a KeyError
        if column not in frame.columns:
            frame[column] = None
    if "data_seed" not in frame.columns and "seed" in frame.columns:
        frame["data_seed"] = frame["seed"]  # a table made before data_seed: each trial drew its data from `seed`
    return tf.contain_paths(frame, PATH_COLUMNS), metadata


def _not_parquet(location: Location) -> str | None:
    """What proves the file is not a Parquet table (no PAR1 at either end, a footer or schema that does not parse),
    or None when the file reads as Parquet or cannot be read at all (then nothing is proven)."""
    try:
        size = location.info().size or 0
        with location.fs.open_input_file(location.path) as handle:
            head = handle.read(4)
            handle.seek(max(size - 4, 0))
            tail = handle.read(4)
    except (OSError, pa.ArrowException):
        return None
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        return f"{size} bytes without Parquet's PAR1 magic at both ends"
    try:
        pq.read_schema(location.path, filesystem=location.fs)
    except pa.ArrowInvalid as error:
        return f"its footer or schema does not parse: {error}"
    except (OSError, pa.ArrowException):
        return None
    return None


def _decoded(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """The JSON values of the key-value metadata; a key whose value does not decode is left out, not fatal."""
    metadata = {}
    for key, value in raw.items():
        if key == b"pandas":
            continue
        try:
            metadata[key.decode()] = json.loads(value)
        except (UnicodeDecodeError, ValueError):
            continue
    return metadata


REBUILD_MARKS = ("rebuilt", "rebuilt_because")  # metadata keys that say a table was rebuilt, and why


class RowTable:
    """trials.parquet in memory, a row a trial. Writing re-encodes only the blocks of rows that changed since the
    last write, so a status change costs little more at 2,000 trials than at 100."""

    BLOCK = 256  # rows a cached Arrow block: few enough chunks for a fast concat, small enough to re-encode

    def __init__(self, rows: list[dict[str, Any]] | None = None) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        self._block_of: dict[str, int] = {}
        self._blocks: list[list[str]] = []
        self._encoded: dict[int, pa.Table] = {}
        for row in rows or []:
            self.put(row)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> RowTable:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return cls([{k: v for k, v in row.items() if v is not None} for row in table.to_pylist()])

    def get(self, trial_id: str) -> dict[str, Any] | None:
        return self._rows.get(trial_id)

    def ids(self) -> list[str]:
        return list(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def put(self, row: dict[str, Any]) -> None:
        """Add or replace the row of row["trial_id"]."""
        trial_id = row["trial_id"]
        if trial_id not in self._block_of:
            if not self._blocks or len(self._blocks[-1]) >= self.BLOCK:
                self._blocks.append([])
            self._blocks[-1].append(trial_id)
            self._block_of[trial_id] = len(self._blocks) - 1
        self._rows[trial_id] = row
        self._encoded.pop(self._block_of[trial_id], None)

    def drop(self, trial_id: str) -> None:
        block = self._block_of.pop(trial_id, None)
        if block is not None:
            self._blocks[block].remove(trial_id)
            self._encoded.pop(block, None)
            del self._rows[trial_id]

    def arrow(self) -> pa.Table:
        """The table, contract columns first (missing ones null), best `best_loss` first."""
        for index, ids in enumerate(self._blocks):
            if index not in self._encoded and ids:
                self._encoded[index] = _encode([self._rows[i] for i in ids])
        parts = [self._encoded[i] for i in range(len(self._blocks)) if i in self._encoded]
        if not parts:
            return pa.table({name: pa.array([], pa.string()) for name in ("trial_id", "status")})
        table = pa.concat_tables(parts, promote_options="permissive")
        ordered = [*LEADING_COLUMNS, *CONFIG_KEYS, *REQUIRED_COLUMNS]
        present = set(table.column_names)
        for name in ordered:
            if name not in present:
                table = table.append_column(name, pa.nulls(len(table)))
        table = table.select(ordered + [c for c in table.column_names if c not in set(ordered)])
        return table.sort_by([("best_loss", "ascending")]) if pa.types.is_floating(table["best_loss"].type) else table

    def frame(self) -> pd.DataFrame:
        return self.arrow().to_pandas()

    def write(self, sweep: Location, metadata: dict[str, Any]) -> None:
        write_trials_table(sweep, self.arrow(), metadata)


def _encode(rows: list[dict[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the union of their keys (from_pylist would keep the first row's keys only)."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return pa.table({key: pa.array([row.get(key) for row in rows]) for key in keys})
