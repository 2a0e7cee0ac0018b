"""Processes a test starts: a free port for a server, and stopping a sweep's driver and its Ray processes by pid."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess

import psutil


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kill_driver(driver: subprocess.Popen) -> None:
    """SIGKILL the driver, then its own Ray processes by pid (a SIGKILLed driver cannot stop its Ray)."""
    family = []
    with contextlib.suppress(psutil.NoSuchProcess):
        family = psutil.Process(driver.pid).children(recursive=True)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    for process in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
