"""Errors the services raise for the user to read."""

from __future__ import annotations


class UserError(RuntimeError):
    """Something the user can fix; the message says what and how."""
