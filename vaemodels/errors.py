"""The one base class of the errors a user causes: every command prints them as one line and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in a flag, a config key, a path or a file the user named; the message says which and why."""


class ConfigError(UserError, ValueError):
    """A config key is unknown, missing or has an impossible value."""


class DatasetUnavailable(UserError, RuntimeError):
    """The dataset's files are missing or unreadable; the message says where they were expected and how to get them."""


class DatasetFileError(DatasetUnavailable, ValueError):
    """A dataset file the user made holds something it cannot be trained on; the message names the file, the array,
    what is wrong and what to save instead. A ValueError too, as registering the file raised before it existed."""
