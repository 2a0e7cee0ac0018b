"""One driver per sweep folder: a lease file in the folder names its holder, and a heartbeat keeps it.

Two drivers on one sweep folder delete each other's checkpoints (Tune's bookkeeping in each) and leave a table
that contradicts the trial folders, so whatever writes trials.parquet (the sweep driver, `latentsweep metrics`)
holds the lease first. It is taken with an exclusive create, so of two drivers started at the same moment one wins:
on a local disk or NFS a hard link of a complete file (link(2) fails when the name exists, atomically on NFSv3+,
and the file never shows half-written), on S3 a PutObject with `If-None-Match: *`. Renewal and take-over replace
the file only while it still holds what was read (S3: `If-Match` on its ETag). A store that can do neither (gs://,
a server that rejects conditional writes) gets the same file without the guarantee: the lease is advisory there.

Ray-free: `latentsweep metrics` holds it too.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vaemodels.errors import UserError
from vaemodels.lease_stores import store_for
from vaemodels.storage import Location

LEASE_FILE = "driver.lease"
LEASE_HEARTBEAT_S = 30.0  # how often a holder rewrites its heartbeat
LEASE_STALE_S = 300.0  # a lease this long without a heartbeat is a dead driver's: taken over with a warning

Warn = Callable[[str], None]


class LeaseHeld(UserError):
    """Another live driver holds the sweep folder's lease; the message is the one line naming it."""


class LeaseLost(UserError):
    """This process's lease was taken by another; the message is the one line saying by whom."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: what the refusal line shows, and a token that tells two holders apart (same pid on two
    hosts, a restarted process reusing a pid)."""

    host: str
    pid: int
    user: str
    since: float  # seconds since the epoch
    heartbeat: float
    token: str

    def encode(self) -> bytes:
        return json.dumps({**asdict(self), "since": _iso(self.since), "heartbeat": _iso(self.heartbeat)}).encode()

    @classmethod
    def decode(cls, data: bytes) -> Holder:
        """The holder a lease file names; an unreadable file reads as an unknown holder with no heartbeat, so it
        counts as stale (a lease is never half-written, so it is damage, not a writer at work)."""
        try:
            raw = json.loads(data)
            fields = {**raw, "since": _seconds(raw["since"]), "heartbeat": _seconds(raw["heartbeat"])}
            return cls(**{name: fields[name] for name in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            return cls(host="?", pid=0, user="?", since=0.0, heartbeat=0.0, token="unreadable")

    def describe(self, now: float) -> str:
        beat = f"{_iso(self.heartbeat, ' ')} ({_age(now - self.heartbeat)} ago)" if self.heartbeat else "never"
        since = _iso(self.since, " ") if self.since else "?"
        return f"host {self.host}, pid {self.pid}, user {self.user}, since {since}, last heartbeat {beat}"


_HELD: set[str] = set()  # the tokens of the leases this process holds now


def this_process(now: float | None = None) -> Holder:
    """A holder naming this process, its heartbeat now."""
    now = time.time() if now is None else now
    return Holder(socket.gethostname(), os.getpid(), _user(), now, now, uuid.uuid4().hex)


def held_line(uri: str, holder: Holder, now: float | None = None) -> str:
    """The one line a second driver (or --fresh, or `metrics`) refuses with."""
    return (
        f"{uri} is in use by another driver ({holder.describe(time.time() if now is None else now)}): let it finish "
        f"or stop it; a dead driver's lease is taken over after {_age(LEASE_STALE_S)} without a heartbeat, or at "
        "once by `latentsweep sweep ... --take-over`"
    )


class Lease:
    """A lease this process holds on a sweep folder: `renew` keeps it, `check` raises LeaseLost once another holder
    has it, `release` removes it (only while it is still ours)."""

    def __init__(self, folder: Location, store: Any, holder: Holder, tag: Any) -> None:
        _HELD.add(holder.token)
        self.folder, self.holder = folder, holder
        self._store, self._tag = store, tag
        self._lost: str | None = None
        self._lock = threading.Lock()  # the heartbeat thread and the driver both renew, check and release
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> str | None:
        """The line saying who took the lease, or None while it is ours."""
        return self._lost

    def renew(self) -> bool:
        """Rewrite the heartbeat if the lease is still ours; False (and `lost` set) once another holder has it."""
        with self._lock:
            if self._lost is not None:
                return False
            fresh = replace(self.holder, heartbeat=time.time())
            tag = self._store.replace(fresh.encode(), self._tag)
            if tag is None:
                self._lost = self._lost_line()
                return False
            self.holder, self._tag = fresh, tag
            return True

    def check(self) -> None:
        """Raise LeaseLost when the heartbeat found another holder: called before each write of the table."""
        if self._lost is not None:
            raise LeaseLost(self._lost)

    def start(self, interval: float = LEASE_HEARTBEAT_S, warn: Warn | None = None) -> Lease:
        """Renew every `interval` seconds in a daemon thread (it dies with the process, never keeping it alive)."""
        self._thread = threading.Thread(target=self._beat, args=(interval, warn), name="lease-heartbeat", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop the heartbeat and delete the lease file if it is still ours."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            if self._lost is None:
                try:
                    self._store.delete(self._tag)
                except OSError as error:  # storage gone read-only or away: the next driver finds a dead holder
                    _stderr(f"warning: the lease on {self.folder.uri} could not be removed ({error}); the next driver "
                            "takes it over (at once on this host, after the stale limit elsewhere)")  # fmt: skip
                self._lost = "released"
            _HELD.discard(self.holder.token)

    def recreate(self) -> None:
        """Hold the lease again after the folder was moved away with it (--fresh): a new exclusive create, which
        refuses if another driver took the free name meanwhile."""
        with self._lock:
            tag = self._store.create(self.holder.encode())
            if tag is None:
                found = self._store.read()
                raise LeaseHeld(held_line(self.folder.uri, Holder.decode(found[0]) if found else self.holder))
            self._tag = tag

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _beat(self, interval: float, warn: Warn | None) -> None:
        while not self._stop.wait(interval):
            try:
                if not self.renew():
                    return
            except Exception as error:  # storage down for a while: keep trying; the stale limit is far off
                if warn is not None:
                    warn(f"warning: could not renew the lease on {self.folder.uri}: {error}")

    def _lost_line(self) -> str:
        found = self._store.read()
        who = f"by {Holder.decode(found[0]).describe(time.time())}" if found else "(its file was removed)"
        return f"{self.folder.uri}: this driver's lease was taken {who}; it stops without writing the table again"


def acquire_lease(folder: Location, take_over: bool = False, warn: Warn | None = None) -> Lease:
    """Hold the lease on a sweep folder (creating the folder on a local disk), without the heartbeat (`start`).

    Refuses with LeaseHeld naming a live holder; takes over a stale one, a dead process's on this host, or any with
    `take_over`, each with a warning line.
    """
    warn = warn or _stderr
    store, advisory = store_for(folder.join(LEASE_FILE))
    try:
        return _take(folder, store, take_over, warn)
    finally:  # after the first write: a server that rejects conditional writes shows itself there
        if advisory or getattr(store, "advisory", False):
            reason = advisory or "the server rejects conditional writes"
            warn(f"warning: the lease on {folder.uri} is advisory: {reason}; two drivers started together both run")


def _take(folder: Location, store: Any, take_over: bool, warn: Warn) -> Lease:
    me, holder = this_process(), None
    for _ in range(3):  # the holder may release or renew between our read and our write: look again
        tag = store.create(me.encode())
        if tag is not None:
            return Lease(folder, store, me, tag)
        found = store.read()
        if found is None:
            continue
        holder = Holder.decode(found[0])
        reason = _free_reason(holder, take_over, time.time())
        if reason is None:
            raise LeaseHeld(held_line(folder.uri, holder))
        tag = store.take(me.encode(), found[1])
        if tag is not None:
            warn(f"warning: took over the lease on {folder.uri} from {holder.describe(time.time())}: {reason}")
            return Lease(folder, store, me, tag)
    raise LeaseHeld(held_line(folder.uri, holder or me))


@contextlib.contextmanager
def hold_lease(folder: Location, take_over: bool = False, warn: Warn | None = None) -> Iterator[Lease]:
    """The lease on a sweep folder, renewed while the block runs and released when it ends, however it ends."""
    lease = acquire_lease(folder, take_over, warn).start(warn=warn or _stderr)
    try:
        yield lease
    finally:
        lease.release()


def _free_reason(holder: Holder, take_over: bool, now: float) -> str | None:
    """Why a lease someone else holds may be taken (None: it may not)."""
    if take_over:
        return "--take-over"
    if now - holder.heartbeat > LEASE_STALE_S:
        return f"no heartbeat for {_age(now - holder.heartbeat)} (stale after {_age(LEASE_STALE_S)})"
    if holder.host == socket.gethostname() and not _alive(holder.pid):
        return f"its process {holder.pid} on this host is gone"
    if holder.host == socket.gethostname() and holder.pid == os.getpid() and holder.token not in _HELD:
        return "this process left it behind and no longer holds it (its storage could not be written then)"
    return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # a killed driver its parent has not reaped yet answers signal 0: Linux shows it as a zombie
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


# ---- small formats ---------------------------------------------------------------------------------------------------


def _iso(seconds: float, separator: str = "T") -> str:
    text = datetime.fromtimestamp(seconds, UTC).strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    return f"{text} UTC" if separator == " " else f"{text}Z"


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _age(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return str(os.getuid())


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
