"""Errors a user can cause, with a message meant for them; everything else is a bug."""

from __future__ import annotations


class InputError(Exception):
    """The input cannot be used; ``user_message`` says what was found, where, and what was expected."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class UploadTooLarge(InputError):
    """An upload exceeds a configured size or entry-count limit (HTTP 413 rather than 400)."""
