"""The one base class of the errors a user causes: every command prints them as one line and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in a flag, a config key, a path or a file the user named; the message says which and why."""


class ConfigError(UserError, ValueError):
    """A config key is unknown, missing or has an impossible value."""
