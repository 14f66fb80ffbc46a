"""One table answers every failure, at every boundary: whose fault it is decides status, exit code and log."""

from __future__ import annotations

import pytest

from core.errors import (
    BUG,
    BUG_MESSAGE,
    DISPOSITIONS,
    InputError,
    ModelUnavailable,
    ServiceBusy,
    ServiceUnavailable,
    SettingsError,
    UploadTimeout,
    UploadTooLarge,
    disposition,
    user_message,
)
from core.store import StoreBusy, StoreDamaged, StoreUnavailable


@pytest.mark.parametrize(("error", "http", "exit_status", "log_status"), [
    (InputError("bad study"), 400, 2, "rejected"),
    (UploadTooLarge("too big"), 413, 2, "too_large"),
    (UploadTimeout("stalled"), 408, 2, "timeout"),
    (ServiceUnavailable("disk full"), 503, 3, "failed"),
    (ModelUnavailable("weights damaged"), 503, 3, "failed"),
    (SettingsError("MGMT_QUEUE_SIZE=-1"), 503, 3, "failed"),
    (StoreUnavailable("database gone"), 503, 3, "failed"),
    (StoreBusy("database locked"), 503, 3, "failed"),
    (StoreDamaged("database damaged"), 503, 3, "failed"),
    (ServiceBusy("all slots taken"), 503, 3, None),
])
def test_each_kind_of_failure_has_its_answer(error: Exception, http: int, exit_status: int,
                                             log_status: str | None) -> None:
    answer = disposition(error)
    assert (answer.http_status, answer.exit_status, answer.log_status) == (http, exit_status, log_status)
    assert user_message(error) == error.user_message


def test_service_problems_are_never_the_uploaders_fault() -> None:
    for kind in (ModelUnavailable, SettingsError, StoreUnavailable, StoreBusy, ServiceBusy):
        assert not issubclass(kind, InputError)
        assert "study could not be used" not in disposition(kind("x")).page_heading


def test_anything_else_is_a_bug_with_a_message_that_blames_no_one_else() -> None:
    assert disposition(KeyError("x")) is BUG and BUG.http_status == 500 and BUG.exit_status == 1
    assert user_message(KeyError("secret detail")) == BUG_MESSAGE


def test_every_listed_kind_is_an_exception_with_a_user_message() -> None:
    for kind in DISPOSITIONS:
        assert issubclass(kind, Exception) and hasattr(kind("message"), "user_message")
