"""Errors meant for users: the CLI prints them as one line and exits non-zero."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem with the user's input (file, option, checkpoint); the message is one line."""
