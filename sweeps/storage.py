"""Storage roots as pyarrow filesystems, so a local path, an NFS mount and s3:// or gs:// read and write alike."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs


class StorageError(ValueError):
    """A storage path or URI that cannot be used; the message names it."""


@dataclass(frozen=True)
class Location:
    """A folder on some filesystem: `fs` plus a path inside it (no scheme)."""

    fs: pafs.FileSystem
    path: str
    uri: str  # what the user gave, made absolute for local paths

    def join(self, *parts: str) -> Location:
        """A location below this one."""
        path = posixpath.join(self.path, *parts)
        return Location(self.fs, path, posixpath.join(self.uri, *parts))

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    def exists(self) -> bool:
        return self.fs.get_file_info(self.path).type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        return self.fs.get_file_info(self.path).type == pafs.FileType.Directory

    def list_dirs(self) -> list[str]:
        """Names of the sub-folders, sorted; empty when this folder does not exist."""
        if not self.is_dir():
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(self.path))
        return sorted(info.base_name for info in infos if info.type == pafs.FileType.Directory)

    def read_text(self) -> str:
        with self.fs.open_input_stream(self.path) as stream:
            return stream.read().decode()

    def read_json(self) -> Any:
        return json.loads(self.read_text())

    def write_text(self, text: str) -> None:
        self.fs.create_dir(posixpath.dirname(self.path), recursive=True)
        with self.fs.open_output_stream(self.path) as stream:
            stream.write(text.encode())


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
    return Location(fs, path.rstrip("/"), text.rstrip("/"))
