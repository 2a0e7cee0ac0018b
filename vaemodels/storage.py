"""Storage roots as pyarrow filesystems, so a local path, an NFS mount and s3:// or gs:// read and write alike.

An S3-protocol server other than AWS (MinIO, Ceph, a local test server) is named the way the AWS tools name it:
the `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`) environment variable, which `pyarrow.fs.FileSystem.from_uri`
reads, or the URI's own query, `s3://BUCKET/PATH?endpoint_override=HOST:PORT&scheme=http`.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from vaemodels.errors import UserError


class StorageError(UserError, ValueError):
    """A storage path or URI that cannot be used; the message names it."""


@dataclass(frozen=True)
class Location:
    """A folder or file on some filesystem: `fs` plus a path inside it (no scheme)."""

    fs: pafs.FileSystem
    path: str
    uri: str  # what the user gave, made absolute for local paths

    def join(self, *parts: str) -> Location:
        """A location below this one."""
        path = posixpath.join(self.path, *parts)
        return Location(self.fs, path, posixpath.join(self.uri, *parts))

    @property
    def name(self) -> str:
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def parent(self) -> Location:
        return Location(self.fs, posixpath.dirname(self.path.rstrip("/")), posixpath.dirname(self.uri.rstrip("/")))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def info(self) -> pafs.FileInfo:
        return self.fs.get_file_info(self.path)

    def exists(self) -> bool:
        return self.info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.info().type == pafs.FileType.Directory

    def list_dirs(self) -> list[str]:
        """Names of the sub-folders, sorted; empty when this folder does not exist."""
        return sorted(info.base_name for info in self.list() if info.type == pafs.FileType.Directory)

    def list(self) -> list[pafs.FileInfo]:
        """Everything directly in this folder (one listing request); empty when it does not exist."""
        try:
            return self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except (NotADirectoryError, FileNotFoundError):
            return []

    def read_bytes(self) -> bytes:
        with self.fs.open_input_stream(self.path) as stream:
            return stream.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def read_json(self) -> Any:
        return json.loads(self.read_text())

    def write_bytes(self, data: bytes) -> None:
        """Replace the file whole: a rename on a local disk, one PUT (atomic by itself) on a bucket."""
        if self.is_local:
            folder = Path(self.path).parent
            folder.mkdir(parents=True, exist_ok=True)
            handle, partial = tempfile.mkstemp(prefix=f".{Path(self.path).name}.", dir=folder)
            try:
                os.fchmod(handle, new_file_mode())  # mkstemp makes 0600, and the rename would keep it
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                os.replace(partial, self.path)
            except BaseException:
                Path(partial).unlink(missing_ok=True)
                raise
            return
        with self.fs.open_output_stream(self.path) as stream:  # S3 and GCS publish the object on close
            stream.write(data)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def delete(self) -> None:
        """Remove this file or folder; nothing when it is gone already."""
        kind = self.info().type
        if kind == pafs.FileType.Directory:
            self.fs.delete_dir(self.path)
        elif kind != pafs.FileType.NotFound:
            self.fs.delete_file(self.path)

    def move_to(self, target: Location) -> None:
        """Move this folder to `target` on the same filesystem: a rename on a disk; on a bucket, which has no
        folders to rename (pyarrow's move of one fails with NO_SUCH_KEY), a copy of every object, then a delete."""
        if self.is_local:
            self.fs.move(self.path, target.path)
            return
        pafs.copy_files(self.path, target.path, source_filesystem=self.fs, destination_filesystem=self.fs)
        self.fs.delete_dir(self.path)

    def total_bytes(self) -> int:
        """Bytes of every file below this folder (one recursive listing)."""
        selector = pafs.FileSelector(self.path, recursive=True, allow_not_found=True)
        return sum(info.size or 0 for info in self.fs.get_file_info(selector) if info.type == pafs.FileType.File)


def new_file_mode() -> int:
    """The mode an ordinary new file gets under this process's umask (0644 under 0022, 0664 under 0002): what
    Ray and every other tool writing the sweep folder gives its files, so that other accounts can read them."""
    return 0o666 & ~_umask()


def _umask() -> int:
    # Linux reports it without changing it; elsewhere, set and restore (not thread-safe, hence the first choice).
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def resolve(path_or_uri: str | Path) -> Location:
    """A Location for a local path (made absolute) or a URI that pyarrow.fs understands (s3://, gs://, file://)."""
    text = str(path_or_uri)
    if "://" not in text:
        local = Path(text).expanduser().resolve()
        return Location(pafs.LocalFileSystem(), local.as_posix(), local.as_posix())
    try:
        fs, path = pafs.FileSystem.from_uri(text)
    except (pa.ArrowInvalid, OSError, ValueError) as error:
        raise StorageError(f"storage {text!r} cannot be opened: {error}") from error
    return Location(fs, path.rstrip("/"), text.split("?", 1)[0].rstrip("/"))


def on(fs: pafs.FileSystem, path: str | Path) -> Location:
    """A Location for a path on a filesystem already at hand (a local path when `fs` is None)."""
    if fs is None:
        return resolve(path)
    text = str(path).rstrip("/")
    return Location(fs, text, text if isinstance(fs, pafs.LocalFileSystem) else f"{fs.type_name}://{text}")


def human_bytes(count: float) -> str:
    """1536 -> '1.5 KiB'."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"
