"""A database file that cannot serve: a damaged one is set aside at start (and the log says so), anything else is a
503 naming it, while predictions are still answered, unlogged."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
import requests
from starlette.applications import Starlette

from core.api import api_routes
from core.config import get_settings
from core.service import Service, reset_service
from tests.api.asgi import call
from tests.app_server import running_app

GARBAGE = b"not a database: " + bytes(range(256)) * 40


@pytest.mark.slow
def test_the_app_starts_with_a_fresh_database_and_keeps_the_garbage_aside(tmp_path: Path, fault_zip: bytes) -> None:
    folder = tmp_path / "app"
    db = folder / "data" / "mgmt.duckdb"
    db.parent.mkdir(parents=True)
    db.write_bytes(GARBAGE)
    with running_app(folder) as server:
        assert server.wait_for_model()["status"] == "ok"  # the store is opened while the model loads
        answer = requests.post(f"{server.url}/api/predict", files={"study": ("study.zip", fault_zip)}, timeout=300)
        listed = requests.get(f"{server.url}/api/predictions", timeout=60)
        log = server.log.read_text(errors="replace")
    assert answer.status_code == 200 and answer.json()["logged"] is True
    assert listed.status_code == 200 and [row["id"] for row in listed.json()] == [answer.json()["log_id"]]
    [aside] = db.parent.glob("mgmt.duckdb.unusable-*")
    assert aside.read_bytes() == GARBAGE
    assert f"The database '{db.resolve()}' is damaged" in log and f"moved to '{aside.resolve()}'" in log
    with duckdb.connect(str(db), read_only=True) as connection:
        assert connection.execute("SELECT probability FROM predictions").fetchall() == [
            (pytest.approx(answer.json()["probability"], abs=1e-6),)]


def test_a_database_path_that_cannot_be_used_answers_503_naming_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    folder = tmp_path / "mgmt.duckdb"
    folder.mkdir()  # a folder where the database file should be: not damaged content, so not set aside
    reset_service(Service(settings=replace(get_settings(), db_path=folder), import_cohort=False))
    try:
        answer = call(Starlette(routes=api_routes()), "GET", "/api/predictions")
    finally:
        reset_service(None)
    assert answer.status == 503 and int(answer.headers["retry-after"]) > 0
    assert answer.json()["error"].startswith(f"The database '{folder}' cannot be used")
    assert folder.is_dir() and list(tmp_path.iterdir()) == [folder]


def test_a_prediction_is_still_answered_when_the_log_cannot_be_written(tmp_path: Path, synthetic_case: Path,
                                                                      caplog) -> None:
    folder = tmp_path / "mgmt.duckdb"
    folder.mkdir()
    service = Service(settings=replace(get_settings(), db_path=folder), import_cohort=False).start(background=False)
    with caplog.at_level(logging.WARNING, logger="core"):
        report = service.predict(synthetic_case, with_cam=False).report
    assert 0 <= report["probability"] <= 1 and (report["logged"], report["log_id"]) == (False, None)
    assert f"Prediction not logged: The database '{folder}' cannot be used" in caplog.text
