"""Errors meant for users: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(ValueError):
    """A problem with the user's input (file, option, checkpoint); the message is one line.

    It subclasses :class:`ValueError` so that library callers can catch bad arguments the usual way.
    """
