"""Short-lived DuckDB connections to one file, serialised within the process and retried across processes.

DuckDB lets one process at a time hold a database file open for writing, and caches the open file per
process. So every operation opens the file, does its work in one transaction, commits and closes: threads of
this process queue on a lock per file, and another process (``python -m core batch`` beside the dashboard)
gets the file between our operations. While another process holds it, the open is retried with backoff up
to the timeout, then ``StoreBusy`` says which file and what to do.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.errors import InputError

FIRST_RETRY_S = 0.005
MAX_RETRY_S = 0.25
"""Backoff between attempts to open a file another process holds: doubling from the first to the max."""

LOCKED = "Could not set lock on file"
"""How DuckDB's IOException says that another process holds the file."""

_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


class StoreBusy(InputError):
    """The database file stayed locked by another process for longer than the store waits."""


def file_lock(path: Path) -> threading.RLock:
    """The process-wide lock of one database file (every Store on that file shares it)."""
    with _locks_guard:
        return _locks.setdefault(path, threading.RLock())


def _holder(message: str) -> str:
    """'process 1234' from DuckDB's lock message, when it names the holder."""
    found = re.search(r"PID (\d+)", message)
    return f"process {found.group(1)}" if found else "another process"


def _open(path: Path, timeout_s: float) -> duckdb.DuckDBPyConnection:
    """A read-write connection to ``path``, waiting up to ``timeout_s`` while another process holds it."""
    deadline = time.monotonic() + timeout_s
    pause = FIRST_RETRY_S
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as err:
            message = str(err)
            if LOCKED not in message:
                raise _unusable(path, message) from err
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreBusy(
                    f"The database '{path}' is in use by {_holder(message)} and stayed locked for more than "
                    f"{timeout_s:g} s; expected it to be free between that process's operations (set MGMT_DB to "
                    "another file or retry once the other process has finished).") from err
            time.sleep(min(pause * random.uniform(0.5, 1.0), remaining))  # jitter: waiting processes spread out
            pause = min(pause * 2, MAX_RETRY_S)


def _unusable(path: Path, message: str) -> InputError:
    if "not a valid DuckDB database" in message:
        return InputError(f"The file '{path}' is not a DuckDB database; expected the prediction store written by "
                          "this app (set MGMT_DB to another file, or move this one away).")
    return InputError(f"The database '{path}' cannot be opened ({message.removeprefix('IO Error: ')}); expected "
                      "a readable and writable DuckDB file (set MGMT_DB to another file).")


@contextmanager
def transaction(path: Path, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection and one transaction: committed when the block ends, rolled back if it raises."""
    with file_lock(path):
        connection = _open(path, timeout_s)
        try:
            connection.begin()
            try:
                yield connection
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
        finally:
            connection.close()
