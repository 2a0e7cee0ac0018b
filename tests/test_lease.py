"""One driver per sweep folder: the lease (vaemodels/lease.py) on a local folder and on S3 (moto), and the commands
that refuse while another driver holds it. No Ray is started: every refusal comes before `ray.init`."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from vaemodels import LEASE_FILE, LEASE_STALE_S, Holder, LeaseHeld, LeaseLost, acquire_lease, resolve

ELSEWHERE = "another-host.example"  # a holder on another host: its pid cannot be checked from here


def write_lease(folder: Path, host: str, pid: int, heartbeat_age: float) -> bytes:
    """A lease file as another driver would have left it."""
    now = time.time()
    data = Holder(host, pid, "someone", now - heartbeat_age - 60, now - heartbeat_age, uuid.uuid4().hex).encode()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LEASE_FILE).write_bytes(data)
    return data


def dead_pid() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def race(folder) -> tuple[list, list[str]]:
    """Two acquirers released at the same moment by a barrier: the leases won and the refusal lines."""
    barrier, won, refused = threading.Barrier(2), [], []

    def acquire() -> None:
        barrier.wait()
        try:
            won.append(acquire_lease(folder, warn=refused.append))
        except LeaseHeld as error:
            refused.append(str(error))

    threads = [threading.Thread(target=acquire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return won, refused


def assert_one_line_naming(line: str, uri: str) -> None:
    assert "\n" not in line and line.startswith(f"{uri} is in use by another driver")
    for part in ("host ", "pid ", "user ", "since ", "last heartbeat ", "--take-over"):
        assert part in line, line


# ---- a local folder


def test_two_acquirers_at_the_same_moment_one_wins(tmp_path):
    folder = resolve(tmp_path / "sweep")
    won, refused = race(folder)
    assert len(won) == 1 and len(refused) == 1
    assert_one_line_naming(refused[0], folder.uri)
    assert Holder.decode((tmp_path / "sweep" / LEASE_FILE).read_bytes()).token == won[0].holder.token
    won[0].release()
    assert not (tmp_path / "sweep" / LEASE_FILE).exists()


def test_a_live_lease_refuses_and_take_over_takes_it(tmp_path):
    write_lease(tmp_path, ELSEWHERE, 4242, heartbeat_age=5)
    with pytest.raises(LeaseHeld) as held:
        acquire_lease(resolve(tmp_path))
    assert_one_line_naming(str(held.value), resolve(tmp_path).uri)
    assert f"host {ELSEWHERE}, pid 4242, user someone" in str(held.value)
    warnings = []
    lease = acquire_lease(resolve(tmp_path), take_over=True, warn=warnings.append)
    assert len(warnings) == 1 and "took over" in warnings[0] and warnings[0].endswith("--take-over")
    assert Holder.decode((tmp_path / LEASE_FILE).read_bytes()).token == lease.holder.token
    lease.release()


def test_a_stale_lease_is_taken_with_a_warning(tmp_path):
    write_lease(tmp_path, ELSEWHERE, 4242, heartbeat_age=LEASE_STALE_S + 60)
    warnings = []
    lease = acquire_lease(resolve(tmp_path), warn=warnings.append)
    assert len(warnings) == 1 and "no heartbeat for" in warnings[0] and ELSEWHERE in warnings[0]
    assert lease.renew()
    lease.release()


def test_two_take_overs_of_one_stale_lease_at_once_leave_one_holder(tmp_path, monkeypatch):
    """The second taker runs whole between the first one's check and its write (the first's second change to
    the folder): with a read-compare-replace both would take the lease and both would train."""
    import vaemodels.lease_stores as stores

    write_lease(tmp_path, ELSEWHERE, 4242, heartbeat_age=LEASE_STALE_S + 60)
    folder, won, refused = resolve(tmp_path), [], []
    changes = {"count": 0}

    def second_taker() -> None:
        try:
            won.append(acquire_lease(folder, warn=lambda line: None))
        except LeaseHeld as error:
            refused.append(str(error))

    class InterleavingOs:
        def __getattr__(self, name: str):
            real = getattr(os, name)
            if name not in ("link", "replace", "rename"):
                return real

            def change(*args):
                changes["count"] += 1
                if changes["count"] == 2:  # the first taker has judged the lease stale and is about to write
                    second_taker()
                return real(*args)

            return change

    monkeypatch.setattr(stores, "os", InterleavingOs())
    second_taker()  # the first taker
    assert changes["count"] > 2 and len(won) == 1 and len(refused) == 1, (won, refused)
    assert Holder.decode((tmp_path / LEASE_FILE).read_bytes()).token == won[0].holder.token
    assert sorted(path.name for path in tmp_path.iterdir()) == [LEASE_FILE]  # nothing set aside is left
    won[0].release()


def test_a_dead_process_on_this_host_is_taken_at_once(tmp_path):
    import socket

    pid = dead_pid()
    write_lease(tmp_path, socket.gethostname(), pid, heartbeat_age=0)  # a fresh heartbeat: SIGKILLed just now
    warnings = []
    lease = acquire_lease(resolve(tmp_path), warn=warnings.append)
    assert len(warnings) == 1 and f"its process {pid} on this host is gone" in warnings[0]
    lease.release()


def test_a_holder_whose_lease_was_taken_stops_before_writing_the_table(tmp_path):
    from sweeps.bookkeeping import TrialBook
    from vaemodels import TRIALS_FILE, RowTable, pending_row

    folder = resolve(tmp_path)
    ours = acquire_lease(folder)
    assert ours.renew()
    book = TrialBook(folder, {}, RowTable(), None, lease=ours)
    book.table.put(pending_row("trial0", {"arch": "vae"}))
    book.write()  # while the lease is ours
    written = (tmp_path / TRIALS_FILE).read_bytes()
    theirs = acquire_lease(folder, take_over=True, warn=lambda line: None)
    assert not ours.renew() and "this driver's lease was taken by host" in ours.lost
    book.table.put(pending_row("trial1", {"arch": "vae"}))
    with pytest.raises(LeaseLost, match="stops without writing the table again"):
        book.write()
    with pytest.raises(LeaseLost):  # nor does Tune take another step, which could write its own state
        book.on_step_begin(iteration=1, trials=[])
    assert (tmp_path / TRIALS_FILE).read_bytes() == written
    ours.release()  # not ours any more: the new holder's file stays
    assert Holder.decode((tmp_path / LEASE_FILE).read_bytes()).token == theirs.holder.token
    theirs.release()


# ---- S3 (moto): If-None-Match on create, If-Match on renew, take-over and release


def test_two_acquirers_on_s3_one_wins(s3_bucket):
    folder = resolve(f"{s3_bucket}/race-{uuid.uuid4().hex[:8]}")
    won, refused = race(folder)
    assert len(won) == 1 and len(refused) == 1
    assert_one_line_naming(refused[0], folder.uri)
    won[0].release()
    assert not folder.join(LEASE_FILE).exists()


def test_take_over_on_s3_and_the_old_holder_loses(s3_bucket):
    folder = resolve(f"{s3_bucket}/takeover-{uuid.uuid4().hex[:8]}")
    ours = acquire_lease(folder)
    with pytest.raises(LeaseHeld):
        acquire_lease(folder)
    theirs = acquire_lease(folder, take_over=True, warn=lambda line: None)
    assert not ours.renew()  # its If-Match names the ETag the take-over replaced
    with pytest.raises(LeaseLost):
        ours.check()
    ours.release()
    assert Holder.decode(folder.join(LEASE_FILE).read_bytes()).token == theirs.holder.token
    assert theirs.renew()
    theirs.release()
    assert not folder.join(LEASE_FILE).exists()


def test_a_store_without_conditional_writes_says_the_lease_is_advisory():
    """gs:// and the like: the same file, checked before writing, and one line saying it is advisory."""
    import pyarrow.fs as pafs

    from vaemodels import on

    fsspec = pytest.importorskip("fsspec")
    fs = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem("memory")))
    folder = on(fs, f"/bucket/advisory-{uuid.uuid4().hex[:8]}")
    warnings = []
    lease = acquire_lease(folder, warn=warnings.append)
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: the lease on {folder.uri} is advisory: ")
    with pytest.raises(LeaseHeld):  # one after the other, a live holder still refuses
        acquire_lease(folder, warn=warnings.append)
    lease.release()
    assert not folder.join(LEASE_FILE).exists()


# ---- the commands


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def held_sweep(tmp_path):
    """A sweep folder (storage tmp_path, name `held`) whose lease this test process holds: a live driver."""
    folder = tmp_path / "held"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("name: held\n")
    lease = acquire_lease(resolve(folder))
    yield folder
    lease.release()


@pytest.mark.parametrize("extra", [(), ("--fresh",)], ids=["resume", "fresh"])
def test_sweep_refuses_a_folder_another_driver_holds(cli, held_sweep, extra):
    before = snapshot(held_sweep.parent)
    done = cli("sweep", "--storage", str(held_sweep.parent), "--name", "held", *extra)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"latentsweep sweep: {held_sweep} is in use by another driver")
    assert snapshot(held_sweep.parent) == before  # nothing moved aside, nothing written
    assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()


def test_metrics_refuses_while_a_driver_holds_the_folder(cli, held_sweep):
    before = snapshot(held_sweep)
    done = cli("metrics", str(held_sweep))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith(f"latentsweep metrics: {held_sweep} is in use by another driver")
    assert snapshot(held_sweep) == before


def test_take_over_is_a_sweep_flag():
    from sweeps.run import add_sweep_flags, settings_from_args
    from vaemodels import CommandParser

    parser = CommandParser(prog="sweep")
    add_sweep_flags(parser)
    assert settings_from_args(parser.parse_args(["--take-over"]))[1].take_over
    assert not settings_from_args(parser.parse_args([]))[1].take_over


@pytest.mark.slow
def test_a_second_driver_refuses_while_the_first_runs_and_the_first_releases(cli, tmp_path):
    """End to end on a local disk; on S3 the same refusal rests on the conditional create tested above (moto)."""
    import os

    storage = str(tmp_path)
    lease = resolve(storage).join("twice", LEASE_FILE)
    flags = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--epochs", "1", "--dataset", "shapes"]
    flags += ["--image-size", "32", "--n-samples", "200", "--dci-samples", "0", "--storage", storage]
    flags += ["--name", "twice", "--max-concurrent", "1"]
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "vaemodels.cli", "sweep", *flags]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        while not lease.exists():  # taken before Ray starts
            assert first.poll() is None, first.stdout.read()
            time.sleep(0.1)
        second = cli("sweep", *flags)
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        assert f"{lease.parent.uri} is in use by another driver (host " in second.stderr
        assert f"pid {first.pid}," in second.stderr
        output, _ = first.communicate(timeout=540)
    finally:
        first.kill()
    assert first.returncode == 0, output[-3000:]
    assert "1 trials finished, 0 errored" in output
    assert not lease.exists()  # released at the end


@pytest.mark.slow
def test_a_driver_whose_lease_was_taken_stops_with_the_line_and_writes_no_table(tmp_path, ray_session):
    """Last in this module: it leaves Ray running (ray_session), which the refusals above must not start."""
    from sweeps.run import add_sweep_flags, prepare_storage, settings_from_args
    from sweeps.tuner import run_sweep
    from vaemodels import TRIALS_FILE, CommandParser

    parser = CommandParser(prog="sweep")
    add_sweep_flags(parser)
    flags = ["--archs", "vae", "--betas", "1", "--latent-dims", "2", "--epochs", "1", "--dataset", "shapes"]
    flags += ["--image-size", "32", "--n-samples", "200", "--dci-samples", "0", "--storage", str(tmp_path)]
    settings, options = settings_from_args(parser.parse_args([*flags, "--name", "lost", "--max-concurrent", "1"]))
    sweep = prepare_storage(settings, options)
    ours = acquire_lease(sweep)
    theirs = acquire_lease(sweep, take_over=True, warn=lambda line: None)
    assert not ours.renew()  # what the heartbeat thread does every LEASE_HEARTBEAT_S
    with pytest.raises(LeaseLost, match="this driver's lease was taken by host"):
        run_sweep(settings, options, sweep, lease=ours)  # Tune calls the table's first write, which refuses
    assert not (tmp_path / "lost" / TRIALS_FILE).exists()
    assert Holder.decode((tmp_path / "lost" / LEASE_FILE).read_bytes()).token == theirs.holder.token
    theirs.release()
