"""The endpoints' own rules: the log's limit, its rows as JSON, and JSON answers for unknown paths and methods."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.applications import Starlette

from core.api import api_routes
from core.api.routes import LOG_LIMIT_DEFAULT, finite, log_limit, prediction_rows
from core.errors import InputError
from core.store import PredictionRecord, Store
from tests.api.asgi import call


def _record(status: str, when: datetime, probability: float | None) -> PredictionRecord:
    return PredictionRecord(
        channel="api", user="anonymous", status=status, study_hash="abc123" if probability else None,
        probability=probability, label="methylated" if probability else None, uncertainty_std=None,
        interval_low=None, interval_high=None, model_repo="weights", model_revision="local",
        preprocessing_version="1", timings_s={"read": 0.25, "total": 1.5},
        error=None if probability else "'…' holds no DICOM image", time=when)


def test_the_log_limit_defaults_to_100_and_takes_1_to_1000() -> None:
    assert log_limit(None) == LOG_LIMIT_DEFAULT == 100
    assert [log_limit(text) for text in ("1", "42", " 7 ", "1000")] == [1, 42, 7, 1000]


@pytest.mark.parametrize("text", ["0", "1001", "abc", "-5", "2.5", "", "1e3"])
def test_a_bad_log_limit_is_refused_naming_the_range(text: str) -> None:
    with pytest.raises(InputError, match=f"limit={text!r} is not usable; expected a whole number from 1 to 1000"):
        log_limit(text)


def test_log_rows_are_json_with_iso_times_nulls_and_timing_objects(tmp_path: Path) -> None:
    store = Store(tmp_path / "log.duckdb")
    first = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.log_prediction(_record("ok", first, 0.734309))
    store.log_prediction(_record("rejected", first + timedelta(seconds=9), None))
    rows = prediction_rows(store.predictions(limit=10))
    json.dumps(rows, allow_nan=False)  # what the JSON response needs
    assert [row["status"] for row in rows] == ["rejected", "ok"]  # newest first
    assert rows[0]["probability"] is None and rows[0]["error"] == "'…' holds no DICOM image"
    assert rows[1]["probability"] == pytest.approx(0.734309) and rows[1]["timings_s"] == {"read": 0.25, "total": 1.5}
    assert datetime.fromisoformat(rows[1]["time"].replace("Z", "+00:00")) == first


def test_an_empty_log_is_an_empty_list(tmp_path: Path) -> None:
    assert prediction_rows(Store(tmp_path / "empty.duckdb").predictions(limit=5)) == []


def test_unknown_paths_and_methods_answer_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    app = Starlette(routes=api_routes())
    missing, wrong_method = call(app, "GET", "/api/nothing"), call(app, "DELETE", "/api/health")
    assert (missing.status, missing.json()) == (404, {"error": "Not Found"})
    assert (wrong_method.status, wrong_method.json()) == (405, {"error": "Method Not Allowed"})
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "HEAD"}


def test_an_undefined_measurement_is_null_in_the_json_answer() -> None:
    report = {"probability": 0.25, "quality": [{"check": "duplicate", "value": float("nan")}], "ood": {
        "score": float("inf"), "threshold": 11.7}, "reasons": ("a",)}
    assert json.dumps(finite(report), allow_nan=False) == (
        '{"probability": 0.25, "quality": [{"check": "duplicate", "value": null}], "ood": {"score": null, '
        '"threshold": 11.7}, "reasons": ["a"]}')
