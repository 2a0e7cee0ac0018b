"""Ray token authentication, settled before `import ray` (which reads RAY_AUTH_MODE at import time)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DEFAULT_TOKEN_PATH = Path("~/.ray/auth_token").expanduser()


def ensure_auth_env() -> None:
    """Default RAY_AUTH_MODE to token and make sure a token exists, generating one when none is found.

    With RAY_AUTH_MODE=token and no token anywhere, Ray's GCS crashes at start.
    """
    if "ray" in __import__("sys").modules and "RAY_AUTH_MODE" not in os.environ:
        raise RuntimeError("ray was imported before RAY_AUTH_MODE was set; set it in the environment first")
    mode = os.environ.setdefault("RAY_AUTH_MODE", "token")
    if mode != "token" or os.environ.get("RAY_AUTH_TOKEN"):
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH", DEFAULT_TOKEN_PATH)).expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
