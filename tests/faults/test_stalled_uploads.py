"""A dozen clients that send the headers of a 500 MB upload and then nothing, against a running app with one slot
and one queue place: they hold receiving places only, a valid prediction is served beside them, and each is dropped
with 408 once it has been idle for MGMT_UPLOAD_IDLE_S, and logged as ``timeout``."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.api.uploads import study_zip
from tests.app_server import AppServer

pytestmark = pytest.mark.slow
IDLE_S = 15
STALLED = 12
APP_SERVER_ENV = {"MGMT_MAX_CONCURRENT": "1", "MGMT_QUEUE_SIZE": "1", "MGMT_MAX_RECEIVING": "16",
                  "MGMT_UPLOAD_IDLE_S": str(IDLE_S)}
DECLARED = 500 * 1000 * 1000
BOUNDARY = "stalled-boundary"


def post_study(server: AppServer, study: Path) -> requests.Response:
    return requests.post(f"{server.url}/api/predict", files={"study": ("study.zip", study_zip(study))}, timeout=300)


@pytest.fixture(scope="module")
def ready(app_server: AppServer, synthetic_case: Path) -> AppServer:
    """The app with its model loaded and one prediction made (the first pays for lazy imports)."""
    assert app_server.wait_for_model()["model"]["state"] == "ready"
    assert post_study(app_server, synthetic_case).status_code == 200
    return app_server


def admission(server: AppServer) -> dict:
    return requests.get(f"{server.url}/api/health", timeout=30).json()["admission"]


def stalled_upload(server: AppServer) -> socket.socket:
    """A connection that sent the headers of a 500 MB multipart upload and its first part's header, then nothing."""
    address = urlsplit(server.url)
    head = (f"POST /api/predict HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {DECLARED}\r\n\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"study\"; filename=\"study.zip\"\r\n\r\n")
    connection = socket.create_connection((address.hostname, address.port), timeout=IDLE_S * 4)
    connection.sendall(head.encode())
    return connection


def answer_of(connection: socket.socket) -> tuple[int, dict]:
    """The status and JSON body the server sent on a raw connection (read until it closes)."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def nothing_received(connection: socket.socket) -> bool:
    """Whether the server has neither answered nor closed the connection yet."""
    timeout = connection.gettimeout()
    connection.setblocking(False)
    try:
        connection.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    finally:
        connection.settimeout(timeout)
    return False


@pytest.fixture
def stalled(ready: AppServer) -> Iterator[list[socket.socket]]:
    """A dozen stalled uploads, open once the server counts them as being received."""
    connections = [stalled_upload(ready) for _ in range(STALLED)]
    deadline = time.monotonic() + 60
    while admission(ready)["receiving"] < STALLED:
        assert time.monotonic() < deadline, f"the server counts {admission(ready)['receiving']} uploads arriving"
        time.sleep(0.1)
    try:
        yield connections
    finally:
        for connection in connections:
            connection.close()


def test_a_valid_prediction_is_served_while_a_dozen_uploads_stall(ready: AppServer, synthetic_case: Path,
                                                                  stalled: list[socket.socket]) -> None:
    status = admission(ready)
    assert (status["staging"], status["waiting"], status["active"]) == (0, 0, 0)  # no queue place, no slot
    answer = post_study(ready, synthetic_case)
    assert all(nothing_received(connection) for connection in stalled)  # still open, still waiting
    assert answer.status_code == 200 and 0.0 <= answer.json()["probability"] <= 1.0
    assert admission(ready)["receiving"] == STALLED


def test_stalled_uploads_get_408_and_are_logged_as_timeout(ready: AppServer, stalled: list[socket.socket]) -> None:
    before = requests.get(f"{ready.url}/api/predictions", params={"limit": 1000}, timeout=60).json()
    answers = [answer_of(connection) for connection in stalled]
    assert [code for code, _ in answers] == [408] * STALLED
    assert all(f"no byte came for {IDLE_S} s (MGMT_UPLOAD_IDLE_S)" in body["error"] for _, body in answers)
    rows = requests.get(f"{ready.url}/api/predictions", params={"limit": 1000}, timeout=60).json()
    new = rows[: len(rows) - len(before)]
    assert [row["status"] for row in new] == ["timeout"] * STALLED
    assert all(row["channel"] == "api" and row["timings_s"]["receive"] >= IDLE_S for row in new)
    assert admission(ready)["receiving"] == 0
