"""A running app with ``MGMT_API_TOKEN`` and ``MGMT_MAX_UPLOAD_MB=1``: the token is required, big uploads get 413."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.app_server import AppServer

pytestmark = pytest.mark.slow
TOKEN = "test-token-4f1c"
APP_SERVER_ENV = {"MGMT_API_TOKEN": TOKEN, "MGMT_MAX_UPLOAD_MB": "1"}
LIMIT = 1024 * 1024
AUTHORISED = {"Authorization": f"Bearer {TOKEN}"}
BOUNDARY = "guarded-test-boundary"


def _connection(server: AppServer) -> http.client.HTTPConnection:
    address = urlsplit(server.url)
    return http.client.HTTPConnection(address.hostname, address.port, timeout=60)


def _answer(connection: http.client.HTTPConnection) -> tuple[int, dict]:
    response = connection.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/health"), ("GET", "/api/predictions"),
                                              ("POST", "/api/predict")])
def test_a_call_without_the_token_is_refused(app_server: AppServer, method: str, path: str) -> None:
    answer = requests.request(method, f"{app_server.url}{path}", timeout=30)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "MGMT_API_TOKEN" in answer.json()["error"]


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer"])
def test_a_call_with_a_wrong_token_is_refused(app_server: AppServer, authorization: str) -> None:
    answer = requests.get(f"{app_server.url}/api/predictions", headers={"Authorization": authorization}, timeout=30)
    assert answer.status_code == 401
    assert "error" in answer.json() and "invalid_token" in answer.headers["WWW-Authenticate"]


def test_a_call_with_the_token_is_answered(app_server: AppServer) -> None:
    health = requests.get(f"{app_server.url}/api/health", headers=AUTHORISED, timeout=30)
    log = requests.get(f"{app_server.url}/api/predictions", headers=AUTHORISED, timeout=60)
    assert health.status_code == 200 and health.json()["status"] in ("ok", "loading")
    assert log.status_code == 200 and isinstance(log.json(), list)


def test_an_upload_declared_over_the_limit_is_refused_before_it_is_sent(app_server: AppServer) -> None:
    connection = _connection(app_server)
    connection.putrequest("POST", "/api/predict")
    for name, value in {**AUTHORISED, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                        "Content-Length": str(LIMIT + 1), "Expect": "100-continue"}.items():
        connection.putheader(name, value)
    connection.endheaders()  # no body: the server must answer from the headers alone
    status, answer = _answer(connection)
    assert status == 413
    assert "MGMT_MAX_UPLOAD_MB" in answer["error"] and f"{LIMIT:,}" in answer["error"]


def test_a_chunked_upload_over_the_limit_is_refused_while_it_arrives_and_leaves_nothing(
        app_server: AppServer) -> None:
    before = app_server.tmp_entries()
    connection = _connection(app_server)
    connection.putrequest("POST", "/api/predict")
    for name, value in {**AUTHORISED, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                        "Transfer-Encoding": "chunked"}.items():
        connection.putheader(name, value)
    connection.endheaders()
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"study\"; filename=\"big.zip\"\r\n\r\n").encode()
    chunk = 64 * 1024
    sent = 0
    for piece in [head] + [b"\0" * chunk] * (LIMIT // chunk):  # just over the limit; no closing chunk
        connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        sent += len(piece)
    assert sent > LIMIT
    status, answer = _answer(connection)
    assert status == 413 and "MGMT_MAX_UPLOAD_MB" in answer["error"]
    assert app_server.tmp_entries() == before
