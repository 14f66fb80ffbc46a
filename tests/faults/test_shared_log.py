"""Two app replicas on one PostgreSQL log (MGMT_DB_URL): a SIGKILL of one loses no reported row, and a server
that goes away answers 503 with the cause, then is used again once back."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.app_server import AppServer, running_app
from tests.faults.test_kill import BURST_ADMITTED, _post, _wait_until_dead
from tests.pg_server import PostgresCluster

psycopg = pytest.importorskip("psycopg", reason="psycopg (requirements-scale.txt) is not installed")
pytestmark = pytest.mark.slow
BURST = 12
KILL_AFTER = 2
"""Predictions the doomed replica answered with logged=true before it is killed."""


def _replicas(stack: ExitStack, tmp_path: Path, url: str) -> tuple[AppServer, AppServer]:
    env = {**BURST_ADMITTED, "MGMT_DB_URL": url, "MGMT_SALT": "one-salt-for-every-replica"}
    doomed = stack.enter_context(running_app(tmp_path / "replica-a", env))
    survivor = stack.enter_context(running_app(tmp_path / "replica-b", env))
    for replica in (doomed, survivor):
        assert replica.wait_for_model()["status"] == "ok"
    return doomed, survivor


def _kill_mid_burst(doomed: AppServer, survivor: AppServer, study: bytes) -> list[dict]:
    """BURST predictions spread over both replicas at once; SIGKILL the doomed one once KILL_AFTER of its own came
    back logged. Every report that came back logged, from either."""
    logged: list[dict] = []
    doomed_logged = 0
    with ThreadPoolExecutor(BURST) as pool:
        futures = {pool.submit(_post, replica, study, n): replica
                   for n, replica in enumerate([doomed, survivor] * (BURST // 2))}
        for future in as_completed(futures):
            report = future.result()
            if report is None or not report["logged"]:
                continue
            logged.append(report)
            doomed_logged += futures[future] is doomed
            if doomed_logged == KILL_AFTER:
                os.kill(doomed.pid, signal.SIGKILL)
    _wait_until_dead(doomed.pid)
    return logged


def test_two_replicas_share_the_log_and_a_sigkill_of_one_loses_no_reported_row(
        tmp_path: Path, fault_zip: bytes, postgres_cluster: PostgresCluster, postgres_database: str) -> None:
    with ExitStack() as stack:
        doomed, survivor = _replicas(stack, tmp_path, postgres_database)
        logged = _kill_mid_burst(doomed, survivor, fault_zip)
        reported = {report["log_id"]: report["probability"] for report in logged}
        assert len(reported) == len(logged) > KILL_AFTER  # ids unique across the replicas
        with psycopg.connect(postgres_database) as connection:
            rows = connection.execute("SELECT id, probability, study_hash FROM predictions "
                                      "WHERE status IN ('ok', 'abstained')").fetchall()
        stored = {row_id: probability for row_id, probability, _ in rows}
        assert len(stored) == len(rows)
        for log_id, probability in reported.items():
            assert stored[log_id] == pytest.approx(probability, abs=1e-6), log_id
        assert len({study_hash for _, _, study_hash in rows}) == 1  # one salt: the same study, the same hash

        postgres_cluster.stop("fast")
        try:
            away = requests.get(f"{survivor.url}/api/predictions", params={"limit": 1000}, timeout=60)
        finally:
            postgres_cluster.start()
        assert away.status_code == 503 and "PostgreSQL server" in away.json()["error"]
        back = requests.get(f"{survivor.url}/api/predictions", params={"limit": 1000}, timeout=60)
        assert back.status_code == 200
        assert set(reported) <= {row["id"] for row in back.json()}
        again = _post(survivor, fault_zip, BURST)
        assert again is not None and again["logged"] and again["log_id"] > max(reported)
