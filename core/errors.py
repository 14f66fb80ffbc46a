"""Errors, split by whose fault they are, and how every boundary (page, REST, CLI, log) answers each kind.

``InputError`` is the uploader's (or command-line user's) mistake and nothing else: 400 over REST, exit 2 on
the command line, "The study could not be used" on the page, ``rejected`` in the log (an oversize upload 413 and
``too_large``, an upload that stalled or crawled 408 and ``timeout``). ``ServiceUnavailable``
and its kinds are the service's problem (a model that cannot load, a busy or broken store, a full disk, a bad
setting): 503 over REST, exit 3, a page message that does not blame the study, ``failed`` in the log. Anything
else is a bug. The boundaries look the answer up in ``DISPOSITIONS`` through ``disposition``; none of them
keeps its own order of ``isinstance`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass


class InputError(Exception):
    """The input cannot be used; ``user_message`` says what was found, where, and what was expected."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class UploadTooLarge(InputError):
    """An upload exceeds a configured size or entry-count limit (HTTP 413 rather than 400)."""


class UploadTimeout(InputError):
    """An upload's body stopped arriving (no bytes for a set time) or arrived too slowly (HTTP 408)."""


class ServiceUnavailable(Exception):
    """The service cannot answer now (model, store, disk, settings); not the user's doing.

    The UI shows ``user_message``; the REST API answers 503 with ``Retry-After: retry_after_s``.
    """

    def __init__(self, user_message: str, retry_after_s: int = 30) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.retry_after_s = retry_after_s


class ModelUnavailable(ServiceUnavailable):
    """The model named by settings or the command line cannot be loaded (missing, unreachable, damaged)."""


class SettingsError(ServiceUnavailable):
    """An ``MGMT_*`` setting has a value the service cannot use; the operator, not the uploader, can fix it."""


class ServiceBusy(ServiceUnavailable):
    """Every slot and queue place is taken (or the wait ran out): refused before any work, so never logged."""


@dataclass(frozen=True)
class Disposition:
    """How each boundary answers one kind of failure."""

    http_status: int
    exit_status: int
    log_status: str | None  # the prediction log's status; None: refused before any work, not an attempt
    page_heading: str
    retry_same_input: bool  # the same study may well succeed later (the page keeps it selected)


EXIT_INPUT, EXIT_SERVICE, EXIT_BUG, EXIT_INTERRUPTED = 2, 3, 1, 130
"""Exit statuses of ``python -m core``: the user's input, the service's problem, a bug, Ctrl-C."""

DISPOSITIONS: dict[type[BaseException], Disposition] = {
    InputError: Disposition(400, EXIT_INPUT, "rejected", "The study could not be used", False),
    UploadTooLarge: Disposition(413, EXIT_INPUT, "too_large", "The upload is too large", False),
    UploadTimeout: Disposition(408, EXIT_INPUT, "timeout", "The upload did not arrive in time", True),
    ServiceUnavailable: Disposition(503, EXIT_SERVICE, "failed", "The service cannot answer right now", True),
    ServiceBusy: Disposition(503, EXIT_SERVICE, None, "The service is busy", True),
}
"""Every known kind of failure; a subclass not listed answers as its nearest listed base class."""
BUG = Disposition(500, EXIT_BUG, "failed", "Something went wrong on our side", False)
"""Anything not in DISPOSITIONS: a bug in this program."""
BUG_MESSAGE = ("Something went wrong on our side; it has been logged. This is a bug, not a problem with the study. "
               "Please try again, or try another study.")


def disposition(err: BaseException) -> Disposition:
    """The answer to ``err``: its class's entry in DISPOSITIONS, else its nearest base class's, else BUG."""
    for kind in type(err).__mro__:
        if kind in DISPOSITIONS:
            return DISPOSITIONS[kind]
    return BUG


def user_message(err: BaseException) -> str:
    """What to show a person: the failure's own message, or BUG_MESSAGE for a bug (whose details go to the log)."""
    message = getattr(err, "user_message", None) if disposition(err) is not BUG else None
    return message or BUG_MESSAGE
