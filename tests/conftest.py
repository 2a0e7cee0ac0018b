"""Test-wide settings: Ray token auth set explicitly before anything imports ray."""

import os

# RAY_AUTH_MODE is read when ray is imported; a token must exist or the GCS refuses to start (FIELD_NOTES.md).
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AUTH_TOKEN", "latentsweep-tests-0123456789abcdef0123456789abcdef")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
