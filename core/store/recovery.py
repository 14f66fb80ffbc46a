"""Setting a damaged database file aside (``<name>.unusable-<UTC time>``, its WAL beside it) so a fresh one
can take its place; nothing is deleted, so the old file can still be examined or repaired.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core.store.connection import StoreUnavailable

FileIdentity = tuple[int, int, int, int] | None
"""Device, inode, size and modification time of a file (None when there is none): tells whether it was replaced."""


def file_identity(path: Path) -> FileIdentity:
    """What identifies the file at ``path`` now, or None when it does not exist."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns


def aside_name(path: Path, moment: datetime | None = None) -> Path:
    """``<name>.unusable-<UTC timestamp>`` beside ``path``, with ``-2``, ``-3`` ... when that is taken."""
    stamp = (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    candidate = path.with_name(f"{path.name}.unusable-{stamp}")
    number = 2
    while candidate.exists() or _wal(candidate).exists():
        candidate = path.with_name(f"{path.name}.unusable-{stamp}-{number}")
        number += 1
    return candidate


def _wal(path: Path) -> Path:
    return path.with_name(f"{path.name}.wal")


def set_aside(path: Path, identity: FileIdentity) -> Path:
    """Rename the file at ``path`` (and its ``.wal``) aside, unless it is no longer the file of ``identity``;
    where it went. StoreUnavailable when it cannot be moved (a read-only folder)."""
    aside = aside_name(path)
    if file_identity(path) != identity:
        raise StoreUnavailable(f"The database '{path}' changed while it was being set aside; expected it to stay "
                               "as found (another process may be repairing it: try again).")
    try:
        os.rename(path, aside)
        if _wal(path).exists():
            os.rename(_wal(path), _wal(aside))
    except OSError as err:
        raise StoreUnavailable(f"The damaged database '{path}' could not be moved to '{aside}' "
                               f"({err.strerror or err}); expected a writable folder (move it away yourself, or set "
                               "MGMT_DB to another file).") from err
    return aside


def read_through(connection: duckdb.DuckDBPyConnection) -> None:
    """Read every row of every table once, so damage inside the file shows when the store opens (where it can be
    set aside), not on some later request. Raises what DuckDB raises for the first damaged block."""
    tables = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                "AND table_type = 'BASE TABLE' ORDER BY table_name").fetchall()
    for (table,) in tables:
        connection.execute(f'SELECT count(*), sum(hash(every_row)) FROM "{table}" AS every_row').fetchone()
