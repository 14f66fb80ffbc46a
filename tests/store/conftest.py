"""Store fixtures: a fresh database per test, in each engine (a DuckDB file, a real PostgreSQL server), and log
records with real-looking values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.store import PredictionRecord, Store

RECORD = PredictionRecord(
    channel="api", user="anonymous", status="ok", study_hash="3f2a9c0d1e7b6a5f4c3b2a19", probability=0.734215,
    label="methylated", uncertainty_std=0.041237, interval_low=0.661, interval_high=0.802, model_repo="org/mgmt-net",
    model_revision="9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c", preprocessing_version="1",
    timings_s={"staging": 0.0123, "read": 0.5, "model": 0.2, "total": 0.7123}, error=None)


def record(**changes: Any) -> PredictionRecord:
    """RECORD with some fields changed."""
    return replace(RECORD, **changes)


@pytest.fixture(params=["duckdb", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """An empty store in each engine: a new DuckDB file, then a new database on the test PostgreSQL server."""
    if request.param == "postgresql":
        return Store(request.getfixturevalue("postgres_database"))
    return Store(tmp_path / "db" / "mgmt.duckdb")
