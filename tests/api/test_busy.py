"""A running app with one slot, no queue and one receiving place (``MGMT_MAX_CONCURRENT=1``, ``MGMT_QUEUE_SIZE=0``,
``MGMT_MAX_RECEIVING=1``): requests beyond them get 503 with Retry-After and a JSON error, the others their
prediction, and /api/health keeps answering.

The only receiving place is held for real: a POST whose body stops halfway has taken it and keeps it until the rest
of the body is sent (well within ``MGMT_UPLOAD_IDLE_S``); only then does it take the one place of the gate.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from urllib3 import encode_multipart_formdata

from core.inference import Predictor
from core.ingest import load_study
from tests.api.uploads import study_zip
from tests.app_server import AppServer

pytestmark = pytest.mark.slow
APP_SERVER_ENV = {"MGMT_MAX_CONCURRENT": "1", "MGMT_QUEUE_SIZE": "0", "MGMT_MAX_RECEIVING": "1",
                  "MGMT_UPLOAD_IDLE_S": "120"}
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def expected_probability(synthetic_case: Path) -> float:
    return Predictor.load().predict(load_study(synthetic_case), with_cam=False).result.probability


@pytest.fixture(scope="module")
def ready(app_server: AppServer) -> AppServer:
    assert app_server.wait_for_model()["model"]["state"] == "ready"
    return app_server


def admission(server: AppServer) -> dict:
    answer = requests.get(f"{server.url}/api/health", timeout=30)
    assert answer.status_code == 200
    return answer.json()["admission"]


def post_study(server: AppServer, zipped: bytes) -> requests.Response:
    files = {"study": ("study.zip", zipped, "application/zip")}
    return requests.post(f"{server.url}/api/predict", files=files, timeout=TIMEOUT_S)


@contextmanager
def place_held(server: AppServer, zipped: bytes) -> Iterator[list[tuple[int, dict]]]:
    """A POST /api/predict of ``zipped`` that sends half its body, holds the server's only receiving place for the
    block, then sends the rest; its (status, JSON) is appended to the list yielded."""
    body, content_type = encode_multipart_formdata([("study", ("study.zip", zipped, "application/zip"))])
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=TIMEOUT_S)
    connection.putrequest("POST", "/api/predict")
    connection.putheader("Content-Type", content_type)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    connection.send(body[: len(body) // 2])
    deadline = time.monotonic() + 60
    while admission(server)["receiving"] != 1:
        assert time.monotonic() < deadline, "the server never took a receiving place for the held request"
        time.sleep(0.05)
    answers: list[tuple[int, dict]] = []
    try:
        yield answers
        connection.send(body[len(body) // 2:])
        response = connection.getresponse()
        answers.append((response.status, json.loads(response.read())))
    finally:
        connection.close()


def concurrently(count: int, job) -> list:
    """``job()`` on ``count`` threads released together; their results in thread order."""
    start, results = threading.Barrier(count), [None] * count

    def run(index: int) -> None:
        start.wait()
        results[index] = job()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S)
    return results


def assert_busy(answer: requests.Response) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"].isdigit() and int(answer.headers["Retry-After"]) >= 1
    assert "busy" in answer.json()["error"] and f"try again in {answer.headers['Retry-After']} s" in answer.json()[
        "error"]


def test_requests_beyond_the_only_place_get_503_and_the_holder_its_prediction(
        ready: AppServer, synthetic_case: Path, expected_probability: float) -> None:
    zipped = study_zip(synthetic_case)
    refused_before = admission(ready)["refused"]
    with place_held(ready, zipped) as held:
        answers = concurrently(3, lambda: post_study(ready, zipped))
        for answer in answers:
            assert_busy(answer)
        status = admission(ready)  # health answers while the place is held
        assert (status["slots"], status["queue_size"], status["receiving"], status["staging"]) == (1, 0, 1, 0)
        assert status["refused"] - refused_before == 3
    [(code, report)] = held
    assert code == 200 and report["probability"] == pytest.approx(expected_probability, abs=1e-6)
    assert post_study(ready, zipped).status_code == 200  # the place was given back


def test_a_refused_upload_larger_than_the_socket_buffers_still_gets_its_503(ready: AppServer,
                                                                          synthetic_case: Path) -> None:
    with place_held(ready, study_zip(synthetic_case)):
        assert_busy(post_study(ready, study_zip(synthetic_case, padding=8 * 1024 * 1024)))


def test_concurrent_predictions_get_200_or_503_and_health_answers_throughout(
        ready: AppServer, synthetic_case: Path, expected_probability: float) -> None:
    zipped = study_zip(synthetic_case)
    refused_before = admission(ready)["refused"]
    done, health = threading.Event(), []

    def watch() -> None:
        while not done.is_set():
            answer = requests.get(f"{ready.url}/api/health", timeout=30)
            health.append((answer.status_code, answer.json()["admission"]))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        answers = concurrently(4, lambda: post_study(ready, zipped))
    finally:
        done.set()
        watcher.join(60)
    codes = sorted(answer.status_code for answer in answers)
    assert set(codes) <= {200, 503} and 200 in codes
    for answer in answers:
        if answer.status_code == 200:
            assert answer.json()["probability"] == pytest.approx(expected_probability, abs=1e-6)
        else:
            assert_busy(answer)
    assert admission(ready)["refused"] - refused_before == codes.count(503)
    assert health and all(code == 200 for code, _ in health)
    assert all(status["active"] + status["waiting"] + status["staging"] <= 1 for _, status in health)
    assert all(status["receiving"] <= 1 for _, status in health)
