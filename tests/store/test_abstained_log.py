"""Abstentions are logged as their own status with their reasons; a version-1 file keeps its rows on migration."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from core.store import Store
from core.store.duckdb_file import DuckDBSession
from core.store.schema import MIGRATIONS, migrate
from tests.store.conftest import RECORD, record


def test_an_abstained_prediction_is_logged_with_its_reasons(store: Store) -> None:
    reasons = ("No tumour was found; expected a glioma of at least 3 ml.",)
    store.log_prediction(record(status="abstained", label="indeterminate", reasons=reasons))
    row = store.predictions(status="abstained").iloc[0]
    assert row["label"] == "indeterminate" and json.loads(row["reasons"]) == list(reasons)
    assert row["probability"] == RECORD.probability


def _migrated_from(path: Path, version: int, values: str) -> Store:
    """A Store on a file written at schema ``version`` holding one row of ``values`` (channel to status)."""
    with duckdb.connect(str(path)) as connection:
        migrate(DuckDBSession(connection), path, MIGRATIONS[:version])
        connection.execute("INSERT INTO predictions (time, channel, \"user\", model_repo, model_revision, timings_s, "
                           f"status) VALUES (now(), {values})")
    return Store(path)


def test_a_version_one_file_keeps_its_rows_and_gains_the_abstained_status(tmp_path: Path) -> None:
    store = _migrated_from(tmp_path / "old.duckdb", 1, "'cli', 'ann', 'r', 'local', '{}', 'ok'")
    assert store.schema_version == MIGRATIONS[-1].version
    old = store.predictions()
    assert old["user"].tolist() == ["ann"] and old["reasons"].isna().all()
    new_id = store.log_prediction(record(status="abstained", reasons=("beyond the OOD threshold",)))
    assert new_id > int(old["id"].iloc[0])


def test_a_version_two_file_keeps_its_rows_and_gains_the_refusal_statuses(tmp_path: Path) -> None:
    store = _migrated_from(tmp_path / "v2.duckdb", 2, "'api', 'ann', 'r', 'local', '{}', 'abstained'")
    for status in ("too_large", "timeout", "disconnected"):
        store.log_prediction(record(status=status, probability=None, label=None))
    assert sorted(store.predictions()["status"]) == ["abstained", "disconnected", "timeout", "too_large"]
