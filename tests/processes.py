"""Stopping what a test started: a sweep's driver process and the Ray processes it started, by pid."""

from __future__ import annotations

import contextlib
import signal
import subprocess

import psutil


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
