"""Errors a user can cause, with a message meant for them; everything else is a bug."""

from __future__ import annotations


class InputError(Exception):
    """The input cannot be used; ``user_message`` says what was found, where, and what was expected."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ModelUnavailable(InputError):
    """The model named by settings or the command line cannot be loaded (missing, unreachable, mismatched)."""


class UploadTooLarge(InputError):
    """An upload exceeds a configured size or entry-count limit (HTTP 413 rather than 400)."""


class ServiceUnavailable(Exception):
    """The server cannot take the request now (busy, out of disk, model still loading); not the user's doing.

    The UI shows ``user_message``; the REST API answers 503 with ``Retry-After: retry_after_s``.
    """

    def __init__(self, user_message: str, retry_after_s: int = 30) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.retry_after_s = retry_after_s
