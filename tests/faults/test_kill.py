"""SIGKILL during a burst of predictions: the DuckDB file opens afterwards with every row reported as logged."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import duckdb
import pytest
import requests

from tests.app_server import AppServer, running_app

pytestmark = pytest.mark.slow
BURST = 10
KILL_AFTER = 3
"""Predictions answered with logged=true before the server is killed."""
BURST_ADMITTED = {"MGMT_MAX_CONCURRENT": "2", "MGMT_QUEUE_SIZE": str(BURST)}
"""Admission settings under which the whole burst waits its turn rather than being refused as busy."""


def _post(server: AppServer, study: bytes, number: int) -> dict | None:
    """The JSON report of one prediction (or of its refusal as busy), or None when the server went away first."""
    try:
        answer = requests.post(f"{server.url}/api/predict", timeout=300,
                               files={"study": (f"study-{number}.zip", study, "application/zip")})
    except requests.RequestException:
        return None
    assert answer.status_code in (200, 503), answer.text
    return answer.json() if answer.status_code == 200 else {"logged": False}


def _wait_until_dead(pid: int) -> None:
    """Until the killed process has exited (its files are closed then, even before it is reaped)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in "ZX":
            return
        time.sleep(0.05)
    raise TimeoutError(f"process {pid} did not exit after SIGKILL")


def _kill_mid_burst(server: AppServer, study: bytes) -> tuple[list[dict], int]:
    """Send BURST predictions at once; SIGKILL the server once KILL_AFTER came back logged. Every logged report,
    and how many requests were left without an answer."""
    logged: list[dict] = []
    unanswered = 0
    with ThreadPoolExecutor(BURST) as pool:
        futures = [pool.submit(_post, server, study, n) for n in range(BURST)]
        for future in as_completed(futures):
            report = future.result()
            unanswered += report is None
            if report is not None and report["logged"]:
                logged.append(report)
            if len(logged) == KILL_AFTER:
                os.kill(server.pid, signal.SIGKILL)
    _wait_until_dead(server.pid)
    return logged, unanswered


def test_rows_reported_as_logged_survive_a_sigkill_and_the_app_starts_again(tmp_path: Path, fault_zip: bytes) -> None:
    folder = tmp_path / "app"
    with running_app(folder, BURST_ADMITTED) as server:
        assert server.wait_for_model()["status"] == "ok"
        db = server.data_dir / "mgmt.duckdb"
        assert db.is_file()  # the missing database was created at start
        logged, unanswered = _kill_mid_burst(server, fault_zip)
    assert len(logged) >= KILL_AFTER and unanswered > 0  # killed in the middle of the burst
    reported = {report["log_id"]: report["probability"] for report in logged}
    assert len(reported) == len(logged)  # one row each
    with duckdb.connect(str(db), read_only=True) as connection:
        rows = dict(connection.execute(  # an abstention is logged with its probability too
            "SELECT id, probability FROM predictions WHERE status IN ('ok', 'abstained')").fetchall())
    for log_id, probability in reported.items():
        assert rows[log_id] == pytest.approx(probability, abs=1e-6), log_id
    with running_app(folder) as again:
        health = again.wait_for_model()
        listed = requests.get(f"{again.url}/api/predictions", params={"limit": 1000}, timeout=60).json()
    assert health["status"] == "ok"
    assert set(reported) <= {row["id"] for row in listed}
    assert not list(db.parent.glob("*.unusable-*"))  # the file was whole: nothing had to be set aside
