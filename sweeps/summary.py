"""The driver's last words on a sweep: what finished, what failed, the best trial, and the exit code."""

from __future__ import annotations

import sys

from sweeps.best import describe_best
from vaemodels import TRIALS_FILE, Location, human_bytes

UNSHARED_STORAGE = "A local path on the head node is not accessible by worker nodes"  # Ray's storage check
UNSHARED_MESSAGE = (
    "latentsweep sweep: trials on worker nodes cannot see the sweep folder {uri}: that --storage exists on the head "
    "node only. On a cluster use shared storage that every node reaches at the same address: an NFS path mounted at "
    "the same place on every node, or s3://BUCKET/PATH or gs://BUCKET/PATH"
)


def summarize(frame, sweep: Location) -> int:
    """Print what finished, what failed, the best trial and how to explore; the exit code."""
    statuses = frame["status"].value_counts().to_dict() if len(frame) else {}
    finished, errored = statuses.get("TERMINATED", 0), statuses.get("ERROR", 0)
    unfinished = len(frame) - finished - errored
    print(f"\nsweep {sweep.uri}: {finished} trials finished, {errored} errored, {len(frame)} in all")
    if errored:
        for row in frame[frame["status"] == "ERROR"].itertuples():
            print(f"  {row.trial_id} failed: {row.error}")
    if finished:
        print(describe_best(frame, sweep))
    damaged = frame[frame["problem"].notna()] if "problem" in frame else frame.iloc[:0]
    for row in damaged.itertuples():
        print(f"  {row.trial_id} is damaged: {row.problem}")
    if unfinished:
        print(f"interrupted with {unfinished} trials unfinished: run the same command again to resume")
    try:
        used = human_bytes(sweep.total_bytes())
        print(f"storage: {used} in {sweep.uri} ({TRIALS_FILE} and {len(frame)} trial folders)")
    except OSError as error:
        print(f"storage: not measured ({error})")
    print(f"explore it: latentsweep explore {sweep.uri}")
    if errored and frame["error"].fillna("").str.contains(UNSHARED_STORAGE, regex=False).any():
        print(UNSHARED_MESSAGE.format(uri=sweep.uri), file=sys.stderr)
        return 2
    if unfinished:
        return 130
    return 0 if finished or not errored else 1
