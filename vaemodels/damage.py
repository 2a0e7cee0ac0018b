"""The error of one trial's unreadable file: the finishing work and the score columns name it and go on."""

from __future__ import annotations


class TrialDamaged(RuntimeError):
    """A file of one trial cannot be read; the message names it."""
