"""Short-lived DuckDB connections to one file, serialised within the process and retried across processes.

DuckDB lets one process at a time hold a database file open for writing, and caches the open file per
process. So every operation opens the file, does its work in one transaction, commits and closes: threads of
this process queue on a lock per file, and another process (``python -m core batch`` beside the dashboard)
gets the file between our operations. While another process holds it, the open is retried with backoff up
to the timeout, then ``StoreBusy`` says which file and what to do. A file that cannot serve (damaged, a folder,
unwritable, disk full) raises ``StoreUnavailable`` naming it and the cause; ``StoreDamaged`` when its content is
not a usable database, which a Store may set aside at start.
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

from core.errors import ServiceUnavailable

FIRST_RETRY_S = 0.005
MAX_RETRY_S = 0.25
"""Backoff between attempts to open a file another process holds: doubling from the first to the max."""

LOCKED = "Could not set lock on file"
"""How DuckDB's IOException says that another process holds the file."""
DAMAGED = ("not a valid DuckDB database", "Could not read enough bytes", "Corrupt database file")
"""How DuckDB says a file's content is not a usable database: garbage or empty, truncated, failed checksum."""

_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


class StoreUnavailable(ServiceUnavailable):
    """The database cannot serve: damaged, not a file, unwritable, out of disk space, or its server gone.

    The service's problem, never the uploader's: 503 over REST, exit 3 on the command line.
    """


class StoreBusy(StoreUnavailable):
    """The database file stayed locked by another process for longer than the store waits."""


class StoreDamaged(StoreUnavailable):
    """The file's content is not a usable DuckDB database (garbage, empty, truncated, failed checksum)."""


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
        except duckdb.Error as err:
            message = str(err)
            if not isinstance(err, duckdb.IOException) or LOCKED not in message:
                raise unusable(path, err) from err
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StoreBusy(
                    f"The database '{path}' is in use by {_holder(message)} and stayed locked for more than "
                    f"{timeout_s:g} s; expected it to be free between that process's operations (set MGMT_DB to "
                    "another file or retry once the other process has finished).") from err
            time.sleep(min(pause * random.uniform(0.5, 1.0), remaining))  # jitter: waiting processes spread out
            pause = min(pause * 2, MAX_RETRY_S)


def cause_of(err: BaseException) -> str:
    """The first line of a DuckDB error without its category prefix (what went wrong, for messages)."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    for prefix in ("IO Error: ", "TransactionContext Error: "):
        text = text.removeprefix(prefix)
    return text[:300]


def unusable(path: Path, err: BaseException) -> StoreUnavailable:
    """Why ``path`` cannot be opened or written, as the error to raise: StoreDamaged for a damaged content."""
    message = str(err)
    if "not a valid DuckDB database" in message:
        return StoreDamaged(f"The file '{path}' is not a DuckDB database; expected the prediction store written "
                            "by this app (set MGMT_DB to another file, or move this one away).")
    if any(sign in message for sign in DAMAGED):
        return StoreDamaged(f"The database '{path}' is damaged ({cause_of(err)}); expected an intact DuckDB file "
                            "(the app sets a damaged file aside when it starts; or set MGMT_DB to another file).")
    return StoreUnavailable(f"The database '{path}' cannot be used ({cause_of(err)}); expected a readable and "
                            "writable DuckDB file with free disk space around it (set MGMT_DB to another file).")


@contextmanager
def transaction(path: Path, timeout_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """One connection and one transaction: committed when the block ends, rolled back if it raises.

    A write that fails for want of room or a readable file (``Could not write ...: No space left on device``,
    a failed checksum) raises StoreUnavailable naming the file; the transaction leaves nothing behind.
    """
    with file_lock(path):
        connection = _open(path, timeout_s)
        try:
            connection.begin()
            try:
                yield connection
            except BaseException:
                _roll_back(connection)
                raise
            connection.commit()
        except (duckdb.IOException, duckdb.TransactionException) as err:
            raise unusable(path, err) from err
        except duckdb.Error as err:
            if any(sign in str(err) for sign in DAMAGED):
                raise unusable(path, err) from err
            raise
        finally:
            connection.close()


def _roll_back(connection: duckdb.DuckDBPyConnection) -> None:
    """Roll back after a failure; a connection the failure already invalidated has nothing left to undo."""
    try:
        connection.rollback()
    except duckdb.Error:
        pass
