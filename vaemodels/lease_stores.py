"""Where a lease file lives (vaemodels/lease.py): the conditional writes each store offers.

A store reads the lease (its bytes and a tag), creates it only if absent, replaces it (renewal) or takes it (from a
dead holder) only while it still holds the tag, and deletes it only then. Local disk and NFS: the tag is the content,
the create a hard link of a complete file (link(2) fails when the name exists, atomically on NFSv3+; an O_EXCL create
could show a reader an empty file), a take-over a rename aside first (of two renames of one name, one finds it). S3:
the tag is the ETag, the create a PutObject with `If-None-Match: *`, the rest `If-Match` (pyarrow's S3 filesystem
cannot send those headers, so boto3 does). Anything else: read-compare-write, which is advisory.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from vaemodels.storage import Location, new_file_mode

_CONFLICT = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}  # another writer got there first
_MISSING = {"NoSuchKey", "404", "NotFound"}
_UNSUPPORTED = {"NotImplemented", "501"}
_CLIENTS = threading.Lock()


def store_for(location: Location) -> tuple[Any, str | None]:
    """The store of a lease file, and why the lease is only advisory there (None: it is not)."""
    if location.is_local:
        return _LocalStore(Path(location.path)), None
    if location.fs.type_name == "s3":
        if importlib.util.find_spec("boto3") is None:
            return _PlainStore(location), "boto3 is not installed (pip install boto3)"
        return _S3Store(location), None
    return _PlainStore(location), f"{location.fs.type_name} storage cannot create a file only if it is absent"


class _ContentStore:
    """A store whose tag is the lease's content: a rewrite or delete first checks the file still holds it.
    Subclasses read, write and remove the bytes."""

    def read(self) -> tuple[bytes, bytes] | None:
        try:
            data = self._read_bytes()
        except FileNotFoundError:
            return None
        return data, data

    def replace(self, data: bytes, tag: bytes) -> bytes | None:
        current = self.read()
        if current is None or current[1] != tag:
            return None
        self._write(data)
        return data

    def take(self, data: bytes, tag: bytes) -> bytes | None:
        """Replace a lease another holder left (stale, dead, or --take-over); see _LocalStore.take."""
        return self.replace(data, tag)

    def delete(self, tag: bytes) -> None:
        current = self.read()
        if current is not None and current[1] == tag:
            self._remove()

    def _read_bytes(self) -> bytes:
        raise NotImplementedError

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def _remove(self) -> None:
        raise NotImplementedError


class _LocalStore(_ContentStore):
    """A local disk or NFS."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def create(self, data: bytes) -> bytes | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self._complete_file(data)
        try:
            os.link(partial, self.path)  # fails when the name exists: the exclusive create
        except FileExistsError:
            return None
        finally:
            os.unlink(partial)
        return data

    def take(self, data: bytes, tag: bytes) -> bytes | None:
        """Two drivers taking over one dead holder's lease at once must not both win, as a read-compare-replace
        lets them: the old file is renamed aside (of two renames of one name, one finds it), checked to be the one
        judged free, and the new lease linked in by the exclusive create. A file that is not the one judged free
        (another taker's new lease) goes back where it was."""
        aside = self.path.with_name(f".{self.path.name}.taken-{uuid.uuid4().hex}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return None
        try:
            if aside.read_bytes() == tag:
                return self.create(data)
            with contextlib.suppress(FileExistsError):  # a third driver created one meanwhile: it holds the lease
                os.link(aside, self.path)
            return None
        finally:
            aside.unlink(missing_ok=True)

    def _read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def _write(self, data: bytes) -> None:
        os.replace(self._complete_file(data), self.path)

    def _remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def _complete_file(self, data: bytes) -> str:
        handle, partial = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        os.fchmod(handle, new_file_mode())  # mkstemp's 0600 would hide the holder from other accounts' drivers
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())  # on NFS: complete on the server before its name appears
        return partial


class _PlainStore(_ContentStore):
    """Any pyarrow filesystem, without conditional writes: read-compare-write (advisory)."""

    def __init__(self, location: Location) -> None:
        self.location = location

    def create(self, data: bytes) -> bytes | None:
        if self.location.info().type != pafs.FileType.NotFound:
            return None
        self.location.write_bytes(data)
        return data

    def _read_bytes(self) -> bytes:
        return self.location.read_bytes()

    def _write(self, data: bytes) -> None:
        self.location.write_bytes(data)

    def _remove(self) -> None:
        self.location.delete()


class _S3Store:
    """The lease object behind an s3:// location; a tag is the object's ETag."""

    def __init__(self, location: Location) -> None:
        self.bucket, _, self.key = location.path.partition("/")
        self.client = client_for(location.fs)
        self.advisory = False

    def read(self) -> tuple[bytes, str] | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except _client_error() as error:
            if _code(error) in _MISSING:
                return None
            raise
        return answer["Body"].read(), answer["ETag"]

    def create(self, data: bytes) -> str | None:
        return self._put(data, IfNoneMatch="*")

    def replace(self, data: bytes, tag: str) -> str | None:
        if self.advisory:
            current = self.read()
            return self._put(data) if current is not None and current[1] == tag else None
        return self._put(data, IfMatch=tag)

    def take(self, data: bytes, tag: str) -> str | None:
        return self.replace(data, tag)  # If-Match on the ETag read: of two takers, one matches

    def delete(self, tag: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, **({} if self.advisory else {"IfMatch": tag}))
        except _client_error() as error:
            if _code(error) not in _CONFLICT | _MISSING:
                raise

    def _put(self, data: bytes, **condition: str) -> str | None:
        try:
            return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=data, **condition)["ETag"]
        except _client_error() as error:
            code = _code(error)
            if code in _CONFLICT or (condition.get("IfMatch") and code in _MISSING):
                return None
            if code not in _UNSUPPORTED or not condition:
                raise
        self.advisory = True  # a server without conditional writes: check, then write (the lease is advisory)
        if "IfNoneMatch" in condition and self.read() is not None:
            return None
        return self.replace(data, condition["IfMatch"]) if "IfMatch" in condition else self._put(data)


def client_for(fs: Any) -> Any:
    """A boto3 client reaching the same endpoint, region and keys as a pyarrow S3FileSystem: the URI's
    endpoint_override and scheme, or AWS_ENDPOINT_URL, which pyarrow has already read into its options."""
    _, (options,) = fs.__reduce__()
    endpoint = options.get("endpoint_override") or None
    if endpoint and "://" not in endpoint:
        endpoint = f"{options.get('scheme') or 'https'}://{endpoint}"
    keys = {}
    if options.get("access_key"):
        keys = {
            "aws_access_key_id": options["access_key"],
            "aws_secret_access_key": options.get("secret_key"),
            "aws_session_token": options.get("session_token") or None,
        }
    import boto3

    with _CLIENTS:  # boto3's default session is not safe to make clients from in two threads at once
        return boto3.client("s3", endpoint_url=endpoint, region_name=options.get("region") or None, **keys)


def _code(error: Any) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError
