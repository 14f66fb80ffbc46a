"""A database file that cannot serve: damaged ones are set aside at start, the rest are named, none crash the app."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from core.errors import InputError, ServiceUnavailable
from core.store import Store, StoreBusy, StoreDamaged, StoreUnavailable
from core.store.recovery import aside_name
from tests.store.conftest import record
from tests.store.test_concurrency import HOLDER, _start, _wait_for

ROOT = Path(__file__).resolve().parents[2]
GARBAGE = bytes(range(256)) * 64


def _aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.unusable-*"))


def _damaged_copy(tmp_path: Path, damage: str) -> Path:
    """A real store with rows, then damaged: cut to half its size, or with its header block overwritten."""
    path = tmp_path / "mgmt.duckdb"
    store = Store(path)
    for n in range(20):
        store.log_prediction(record(probability=n / 20))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else data[:4096] + b"\xff" * 8192 + data[12288:])
    return path


def test_a_file_of_garbage_is_set_aside_byte_for_byte_and_a_fresh_store_works(tmp_path: Path, caplog) -> None:
    path = tmp_path / "mgmt.duckdb"
    path.write_bytes(GARBAGE)
    with caplog.at_level(logging.WARNING, logger="core.store"):
        store = Store(path)
    assert store.log_prediction(record()) == 1 and len(store.predictions()) == 1
    [aside] = _aside(path)
    assert store.set_aside == aside and aside.read_bytes() == GARBAGE
    assert aside.name.startswith("mgmt.duckdb.unusable-") and aside.name.endswith("Z")
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert f"'{store.path}'" in warning and f"'{aside}'" in warning and "not a valid DuckDB database" in warning


@pytest.mark.parametrize("damage", ["truncated", "checksum"])
def test_a_damaged_store_is_set_aside_and_replaced_by_an_empty_one(tmp_path: Path, damage: str) -> None:
    path = _damaged_copy(tmp_path, damage)
    damaged = path.read_bytes()
    store = Store(path)
    assert store.predictions().empty
    assert [p.read_bytes() for p in _aside(path)] == [damaged]


def test_the_wal_of_a_damaged_file_goes_aside_with_it(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    path.write_bytes(GARBAGE)
    wal = tmp_path / "mgmt.duckdb.wal"
    wal.write_bytes(b"wal of the damaged file")
    store = Store(path)
    assert store.set_aside is not None
    assert Path(f"{store.set_aside}.wal").read_bytes() == b"wal of the damaged file"
    assert store.log_prediction(record()) == 1


def test_without_recover_a_damaged_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    path.write_bytes(GARBAGE)
    with pytest.raises(StoreDamaged, match="is not a DuckDB database"):
        Store(path, recover=False)
    assert path.read_bytes() == GARBAGE and _aside(path) == []


def test_a_missing_file_is_created_without_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / "new" / "mgmt.duckdb"
    with caplog.at_level(logging.WARNING, logger="core.store"):
        store = Store(path)
    assert path.is_file() and store.set_aside is None and store.predictions().empty and not caplog.records


def test_a_file_removed_while_running_is_created_again_with_its_schema(tmp_path: Path, caplog) -> None:
    store = Store(tmp_path / "mgmt.duckdb")
    store.log_prediction(record())
    store.path.unlink()
    with caplog.at_level(logging.WARNING, logger="core.store"):
        assert store.log_prediction(record(probability=0.5)) == 1
    assert store.predictions()["probability"].tolist() == [0.5]
    assert "had gone; a fresh one was created" in caplog.text


def test_a_folder_in_place_of_the_file_is_named_not_moved(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    path.mkdir()
    with pytest.raises(StoreUnavailable, match="cannot be used") as caught:
        Store(path)
    assert not isinstance(caught.value, StoreDamaged) and f"'{path}'" in caught.value.user_message
    assert path.is_dir() and _aside(path) == []


def test_a_file_from_a_newer_app_is_not_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    Store(path)
    with duckdb.connect(str(path)) as connection:
        connection.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())")
    with pytest.raises(StoreUnavailable, match="schema version 99"):
        Store(path)
    assert _aside(path) == []


def test_an_unusable_store_is_the_services_problem_not_the_users() -> None:
    error = StoreUnavailable("The database 'x' cannot be used (disk full).")
    assert not isinstance(error, InputError) and isinstance(error, ServiceUnavailable)
    assert error.user_message == "The database 'x' cannot be used (disk full)." and error.retry_after_s > 0


def test_two_damaged_files_set_aside_in_one_second_get_distinct_names(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    moment = datetime(2026, 5, 1, 12, 30, 5, tzinfo=UTC)
    first = aside_name(path, moment)
    first.write_bytes(b"first")
    assert first.name == "mgmt.duckdb.unusable-20260501T123005Z"
    assert aside_name(path, moment).name == "mgmt.duckdb.unusable-20260501T123005Z-2"


@pytest.mark.slow
def test_a_file_locked_by_another_process_is_busy_not_damaged(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    Store(path)
    before = path.read_bytes()
    marker = tmp_path / "holder-started"
    holder = _start(HOLDER, path, marker, 30)
    try:
        _wait_for(marker, holder)
        with pytest.raises(StoreBusy):
            Store(path, lock_timeout_s=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert _aside(path) == [] and path.read_bytes() == before


FULL_DISK = """
import json, resource, sys
from pathlib import Path
from core.store import Store, StoreUnavailable
from tests.store.conftest import record
store = Store(Path(sys.argv[1]))
first = store.log_prediction(record(probability=0.1))
resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))  # no file may grow: as on a full disk
full = store.log_prediction(record(probability=0.2))
try:
    store.purge(0)
    purge = None
except StoreUnavailable as err:
    purge = err.user_message
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
after = store.log_prediction(record(probability=0.3))
print(json.dumps({"first": first, "full": full, "purge": purge, "after": after}))
"""


@pytest.mark.slow
def test_a_full_disk_leaves_the_row_unlogged_names_the_cause_and_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    run = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    assert outcome["first"] is not None and outcome["full"] is None and outcome["after"] is not None
    assert f"'{path}'" in outcome["purge"] and "File too large" in outcome["purge"]
    assert "Prediction not logged" in run.stderr and "File too large" in run.stderr
    assert Store(path).predictions()["probability"].tolist() == [0.3, 0.1]  # nothing lost, nothing half-written
