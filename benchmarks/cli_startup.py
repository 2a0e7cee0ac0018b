"""How long `latentsweep --help` takes, against a bare interpreter and against importing torch, in the same run.

The parser imports no torch, scikit-learn, pyarrow or Ray (tests/test_structure.py checks which modules it loads);
this measures what that buys. Each command runs REPEAT times in a fresh interpreter; medians are printed.

    .venv/bin/python benchmarks/cli_startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

REPEAT = 5
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "latentsweep --help": [sys.executable, "-m", "vaemodels.cli", "--help"],
    "latentsweep sweep --help": [sys.executable, "-m", "vaemodels.cli", "sweep", "--help"],
    "latentsweep train --help": [sys.executable, "-m", "vaemodels.cli", "train", "--help"],
    "python -c 'import torch, sklearn, pyarrow, ray'": [sys.executable, "-c", "import torch, sklearn, pyarrow, ray"],
}


def median_seconds(command: list[str]) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    seconds = {name: median_seconds(command) for name, command in COMMANDS.items()}
    bare, heavy = seconds["python -c pass"], seconds["python -c 'import torch, sklearn, pyarrow, ray'"]
    for name, value in seconds.items():
        print(f"{name:50s} {value:6.2f} s")
    slowest = max(seconds[name] for name in COMMANDS if name.startswith("latentsweep"))
    print(f"slowest --help vs a bare interpreter: {slowest / bare:.2f}x")
    print(f"slowest --help vs importing the heavy modules alone: {slowest / heavy:.2f}x")


if __name__ == "__main__":
    main()
