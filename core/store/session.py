"""What the log, cohort and schema queries need from a database: one transaction, in either engine.

The queries (``log``, ``cohort``, ``schema``) are written once, in the SQL both DuckDB and PostgreSQL speak,
with ``?`` parameters; a Session runs them inside one transaction of its engine and hands back plain rows or a
pandas frame with the column types the caller names, so the pages see the same frame from either engine.

Example:
    >>> import tempfile
    >>> from core.store.duckdb_file import DuckDBFile
    >>> with DuckDBFile(Path(tempfile.mkdtemp()) / "mgmt.duckdb").transaction() as session:
    ...     session.row("SELECT count(*) FROM predictions")
    (0,)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

Parameters = Sequence[Any]
"""The values of a statement's ``?`` placeholders, in order."""


class Session(Protocol):
    """One open transaction: committed when its block ends, rolled back when the block raises."""

    dialect: str
    """``duckdb`` or ``postgresql``: which statements of a Migration to run."""
    schema_conflicts: tuple[type[Exception], ...]
    """What the engine raises when a table or sequence to create is already there."""

    def rows(self, sql: str, parameters: Parameters = ()) -> list[tuple[Any, ...]]:
        """Every row the statement returns."""

    def row(self, sql: str, parameters: Parameters = ()) -> tuple[Any, ...] | None:
        """The first row the statement returns, or None."""

    def changed(self, sql: str, parameters: Parameters = ()) -> int:
        """Run an INSERT, UPDATE or DELETE; how many rows it touched."""

    def frame(self, sql: str, parameters: Parameters, dtypes: Mapping[str, str]) -> pd.DataFrame:
        """The statement's rows as a frame whose columns have the given pandas types."""

    def insert_frame(self, table: str, frame: pd.DataFrame) -> None:
        """Append the frame's rows to ``table`` (columns matched by name)."""

    def lock_schema(self) -> None:
        """Hold off other processes' migrations until this transaction ends."""


class Backend(Protocol):
    """Where the store lives (a DuckDB file or a PostgreSQL server) and how to open a transaction there."""

    location: Path | str
    """The file, or the server's URL without its password: what messages name."""
    schema_version: int
    set_aside: Path | None

    def transaction(self) -> AbstractContextManager[Session]:
        """One transaction; StoreUnavailable (or StoreBusy) naming the location when it cannot serve."""


def typed(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with each named column in its pandas type (the same frame from DuckDB or PostgreSQL rows)."""
    return frame.astype({name: kind for name, kind in dtypes.items() if name in frame.columns})


def column_values(frame: pd.DataFrame) -> Iterator[tuple[Any, ...]]:
    """The frame's rows as plain Python values (None for a missing value), for a database driver."""
    plain = frame.astype(object).where(frame.notna(), None)
    for values in plain.itertuples(index=False, name=None):
        yield tuple(value.item() if hasattr(value, "item") else value for value in values)
