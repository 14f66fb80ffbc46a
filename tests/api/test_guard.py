"""ApiGuard: the bearer token is checked before anything else, and every failure leaves as JSON."""

from __future__ import annotations

import logging

import pytest
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from core.api.guard import ApiGuard
from core.errors import InputError, UploadTooLarge
from core.model.hub import ModelUnavailable
from core.store import StoreBusy
from tests.api.asgi import call

TOKEN = "guard-test-token"
PATIENT = "SMITH^JOHN"


class Endpoint:
    """An app behind the guard that answers 200, or raises ``error``; it records whether it was reached."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.reached = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reached = True
        if self.error is not None:
            raise self.error
        await JSONResponse({"ok": True})(scope, receive, send)


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MGMT_API_TOKEN", TOKEN)
    return TOKEN


def test_without_a_token_setting_calls_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    answer = call(ApiGuard(Endpoint()), "GET", "/api/health")
    assert (answer.status, answer.json()) == (200, {"ok": True})


def test_a_missing_token_is_refused_before_the_endpoint_runs(token: str) -> None:
    endpoint = Endpoint()
    answer = call(ApiGuard(endpoint), "POST", "/api/predict", chunks=[b"never read"])
    assert answer.status == 401 and not endpoint.reached
    assert answer.headers["www-authenticate"] == 'Bearer realm="mgmt-api"'
    assert "Authorization: Bearer" in answer.json()["error"]


@pytest.mark.parametrize("authorization", ["Bearer wrong", f"Bearer {TOKEN}-", f"Token {TOKEN}", f"{TOKEN}"])
def test_a_wrong_token_is_refused(token: str, authorization: str) -> None:
    endpoint = Endpoint()
    answer = call(ApiGuard(endpoint), "GET", "/api/predictions", headers={"Authorization": authorization})
    assert answer.status == 401 and not endpoint.reached
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"Bearer  {TOKEN} "])
def test_the_right_token_passes(token: str, authorization: str) -> None:
    answer = call(ApiGuard(Endpoint()), "GET", "/api/health", headers={"Authorization": authorization})
    assert answer.status == 200


def test_the_token_is_read_at_request_time(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = ApiGuard(Endpoint())
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    assert call(guard, "GET", "/api/health").status == 200
    monkeypatch.setenv("MGMT_API_TOKEN", "now-set")
    assert call(guard, "GET", "/api/health").status == 401


@pytest.mark.parametrize(("error", "status"), [
    (InputError("'x.zip' is not a readable zip archive"), 400),
    (UploadTooLarge("The upload is larger than 1,048,576 bytes"), 413),
    (ModelUnavailable("The model is still loading after 120 s; try again in a minute."), 503),
    (StoreBusy("The database is locked by another process."), 503),
])
def test_user_errors_answer_their_status_with_their_message(error: InputError, status: int) -> None:
    answer = call(ApiGuard(Endpoint(error)), "POST", "/api/predict")
    assert answer.status == status
    assert answer.json() == {"error": error.user_message}


def test_unavailable_tells_when_to_retry() -> None:
    answer = call(ApiGuard(Endpoint(ModelUnavailable("loading"))), "POST", "/api/predict")
    assert int(answer.headers["retry-after"]) > 0


def test_a_bug_answers_500_with_a_reference_and_logs_no_patient_data(caplog: pytest.LogCaptureFixture) -> None:
    def failing_step() -> None:
        raise KeyError(f"'{PATIENT}/FLAIR/Image-1.dcm'")

    try:
        failing_step()
    except KeyError as err:
        bug = RuntimeError(f"could not stage '{PATIENT}'")
        bug.__cause__ = err
    with caplog.at_level(logging.ERROR, logger="core.api.guard"):
        answer = call(ApiGuard(Endpoint(bug)), "POST", "/api/predict")
    assert answer.status == 500
    error = answer.json()["error"]
    assert error.startswith("internal error (reference ")
    assert PATIENT not in answer.body.decode() and "Traceback" not in answer.body.decode()
    reference = error.split("reference ", 1)[1].split(")", 1)[0]
    assert reference in caplog.text
    assert "RuntimeError" in caplog.text and "KeyError" in caplog.text and "failing_step" in caplog.text
    assert PATIENT not in caplog.text


def test_a_failure_after_the_answer_started_is_not_answered_twice() -> None:
    async def half_answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        call(ApiGuard(half_answer), "GET", "/api/health")
