"""Sharing the file: many threads of this process, a second process writing, a process that keeps it open."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from core.store import Store, StoreBusy
from tests.store.conftest import record

ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import sys
from pathlib import Path
from core.store import Store
from tests.store.conftest import record
store = Store(sys.argv[1])  # a DuckDB file or a postgresql:// URL
Path(sys.argv[2]).touch()
for n in range(int(sys.argv[3])):
    assert store.log_prediction(record(channel="cli", probability=n / 100)) is not None
"""

HOLDER = """
import sys, time
from pathlib import Path
import duckdb
connection = duckdb.connect(sys.argv[1])
Path(sys.argv[2]).touch()
time.sleep(float(sys.argv[3]))
"""


def _start(script: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


def _wait_for(marker: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the other process never got going"
        time.sleep(0.01)


@pytest.mark.slow
def test_eight_threads_logging_at_once_lose_no_row(store: Store) -> None:
    def log_25(thread: int) -> list[int | None]:
        return [store.log_prediction(record(user=f"thread-{thread}", probability=n / 25)) for n in range(25)]

    with ThreadPoolExecutor(8) as pool:
        ids = [row_id for batch in pool.map(log_25, range(8)) for row_id in batch]
    rows = store.predictions(limit=1000)
    assert len(rows) == 200 and None not in ids and len(set(ids)) == 200
    assert sorted(rows["id"]) == sorted(ids)
    assert rows.groupby("user").size().tolist() == [25] * 8


@pytest.mark.slow
def test_a_second_process_writing_at_the_same_time_loses_no_row(store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "writer-started"
    writer = _start(WRITER, store.path, marker, 50)
    try:
        _wait_for(marker, writer)
        ours = [store.log_prediction(record(channel="app", probability=n / 100)) for n in range(50)]
        _, errors = writer.communicate(timeout=120)
    finally:
        writer.kill()
    assert writer.returncode == 0, errors
    rows = Store(store.path).predictions()
    assert len(rows) == 100 and rows["id"].is_unique and None not in ours
    assert rows.groupby("channel").size().to_dict() == {"app": 50, "cli": 50}


@pytest.mark.slow
def test_a_process_holding_the_file_past_the_timeout_gives_store_busy_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "mgmt.duckdb"
    Store(path)
    marker = tmp_path / "holder-started"
    holder = _start(HOLDER, path, marker, 30)
    try:
        _wait_for(marker, holder)
        started = time.monotonic()
        with pytest.raises(StoreBusy, match="is in use by process") as caught:
            Store(path, lock_timeout_s=0.5)
        waited = time.monotonic() - started
        assert f"'{path}'" in caught.value.user_message and "MGMT_DB" in caught.value.user_message
        assert 0.5 <= waited < 5  # waited the whole timeout, then gave up
    finally:
        holder.kill()
        holder.wait()
    assert Store(path, lock_timeout_s=5).predictions().empty  # free again once the holder is gone


@pytest.mark.slow
def test_a_prediction_that_cannot_be_logged_in_time_returns_none(tmp_path: Path) -> None:
    store = Store(tmp_path / "mgmt.duckdb", lock_timeout_s=0.3)
    marker = tmp_path / "holder-started"
    holder = _start(HOLDER, store.path, marker, 30)
    try:
        _wait_for(marker, holder)
        assert store.log_prediction(record()) is None
    finally:
        holder.kill()
        holder.wait()
    assert store.log_prediction(record()) == 1 and len(store.predictions()) == 1
