"""The embedded engine: the store in one DuckDB file, opened per operation (see ``connection``), the default.

A file is created or migrated when opened; a file whose content is damaged is set aside (see ``recovery``) and a
fresh one made; a file removed while the app runs is created afresh, with its schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.store.connection import StoreDamaged, StoreUnavailable, cause_of, file_lock, transaction
from core.store.recovery import file_identity, read_through, set_aside
from core.store.schema import migrate
from core.store.session import Parameters, typed

logger = logging.getLogger(__name__)


class DuckDBSession:
    """One DuckDB transaction, as the queries see it."""

    dialect = "duckdb"
    schema_conflicts: tuple[type[Exception], ...] = (duckdb.CatalogException,)

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self.connection = connection

    def rows(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        return self.connection.execute(sql, list(parameters)).fetchall()

    def row(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        return self.connection.execute(sql, list(parameters)).fetchone()

    def changed(self, sql: str, parameters: Parameters = ()) -> int:
        found = self.connection.execute(sql, list(parameters)).fetchone()  # DuckDB answers DML with (rows,)
        return int(found[0]) if found else 0

    def frame(self, sql: str, parameters: Parameters, dtypes: Mapping[str, str]) -> pd.DataFrame:
        return typed(self.connection.execute(sql, list(parameters)).df(), dtypes)

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        names = ", ".join(f'"{name}"' for name in frame.columns)
        self.connection.register("incoming_rows", frame)
        try:
            self.connection.execute(f'INSERT INTO "{table}" ({names}) SELECT {names} FROM incoming_rows')
        finally:
            self.connection.unregister("incoming_rows")

    def lock_schema(self) -> None:
        """Nothing to do: DuckDB lets one process at a time hold the file for writing."""


class DuckDBFile:
    """The store's DuckDB file, created or migrated on open; with ``recover`` a damaged one is set aside."""

    def __init__(self, path: Path, lock_timeout_s: float = 10.0, recover: bool = True) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailable(f"The folder of the database '{path}' cannot be created ({err}); expected a "
                                   "writable location (set MGMT_DB or MGMT_DATA_DIR).") from err
        self.location: Path | str = path.resolve()
        self.path = path.resolve()
        self.lock_timeout_s = lock_timeout_s
        self.set_aside: Path | None = None
        """Where a damaged file found at start was moved (None when there was none)."""
        try:
            self.schema_version = self._migrate()
        except StoreDamaged as err:
            if not recover:
                raise
            self._recover(err)

    def _migrate(self) -> int:
        """Bring the file to the latest schema and read it through once; the schema version."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            version = migrate(DuckDBSession(connection), self.path)
            read_through(connection)
            return version

    def _recover(self, damage: StoreDamaged) -> None:
        """Move the damaged file (and its WAL) aside, then create a fresh database in its place."""
        with file_lock(self.path):
            identity = file_identity(self.path)  # a process that recovered first left a fresh file: keep it
            try:
                self.schema_version = self._migrate()
                return
            except StoreDamaged:
                if file_identity(self.path) != identity:
                    raise damage from None
            self.set_aside = set_aside(self.path, identity)
            self.schema_version = self._migrate()
        logger.warning("The database '%s' is damaged (%s); it was moved to '%s' and a fresh database was created "
                       "in its place.", self.path, cause_of(damage.__cause__ or damage), self.set_aside)

    @contextmanager
    def transaction(self) -> Iterator[DuckDBSession]:
        """One transaction on the file; a file removed while the app runs is created afresh, with its schema."""
        missing = not self.path.exists()
        with transaction(self.path, self.lock_timeout_s) as connection:
            session = DuckDBSession(connection)
            if missing:
                logger.warning("The database '%s' had gone; a fresh one was created.", self.path)
                migrate(session, self.path)
            yield session
