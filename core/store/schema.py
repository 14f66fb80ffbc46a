"""The database schema as an ordered list of migrations; ``schema_version`` records which ones a file has.

A file is brought to the latest version when a Store opens it, inside one transaction, so a crash or a
second process never leaves it half-migrated. Never edit a released migration: append a new one.
Times are stored as UTC (``TIMESTAMP`` without zone: reading a zoned one back needs pytz, which we do not ship).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core.store.connection import StoreUnavailable


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its version number, what it does, and its SQL statements."""

    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "prediction log, cohort cases and model metrics", (
        "CREATE SEQUENCE prediction_ids START 1",
        """CREATE TABLE predictions (
            id BIGINT PRIMARY KEY DEFAULT nextval('prediction_ids'),
            time TIMESTAMP NOT NULL,
            channel VARCHAR NOT NULL,
            "user" VARCHAR NOT NULL,
            study_hash VARCHAR,
            probability DOUBLE,
            label VARCHAR,
            uncertainty_std DOUBLE,
            interval_low DOUBLE,
            interval_high DOUBLE,
            model_repo VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL,
            preprocessing_version VARCHAR,
            timings_s VARCHAR NOT NULL,
            status VARCHAR NOT NULL CHECK (status IN ('ok', 'rejected', 'failed')),
            error VARCHAR)""",
        """CREATE TABLE cohort_cases (
            cohort VARCHAR NOT NULL,
            model_repo VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL,
            "case" VARCHAR NOT NULL,
            fold INTEGER,
            label INTEGER CHECK (label IN (0, 1)),
            probability DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
            written_at TIMESTAMP NOT NULL)""",
        """CREATE TABLE model_metrics (
            model_repo VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL,
            metrics VARCHAR NOT NULL,
            written_at TIMESTAMP NOT NULL)""",
    )),
    Migration(2, "abstained predictions as their own status, with their reasons", (
        # DuckDB cannot alter a CHECK constraint: the table is rebuilt with the wider one and the rows copied.
        """CREATE TABLE predictions_v2 (
            id BIGINT PRIMARY KEY DEFAULT nextval('prediction_ids'),
            time TIMESTAMP NOT NULL,
            channel VARCHAR NOT NULL,
            "user" VARCHAR NOT NULL,
            study_hash VARCHAR,
            probability DOUBLE,
            label VARCHAR,
            uncertainty_std DOUBLE,
            interval_low DOUBLE,
            interval_high DOUBLE,
            model_repo VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL,
            preprocessing_version VARCHAR,
            timings_s VARCHAR NOT NULL,
            status VARCHAR NOT NULL CHECK (status IN ('ok', 'abstained', 'rejected', 'failed')),
            error VARCHAR,
            reasons VARCHAR)""",
        "INSERT INTO predictions_v2 SELECT *, NULL FROM predictions",
        "DROP TABLE predictions",
        "ALTER TABLE predictions_v2 RENAME TO predictions",
    )),
)
"""Every schema version in order; the last one is what this code reads and writes."""


def utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without a zone, as stored (a naive datetime is taken to be UTC already)."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def schema_version(connection: duckdb.DuckDBPyConnection) -> int:
    """The latest migration applied to the open file (0 for a file that has none)."""
    found = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'").fetchone()
    if not found or not found[0]:
        return 0
    row = connection.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(connection: duckdb.DuckDBPyConnection, path: Path,
            migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply the migrations the file lacks, in order (within the caller's transaction); the version reached."""
    current = schema_version(connection)
    latest = migrations[-1].version
    if current > latest:
        raise StoreUnavailable(f"The database '{path}' has schema version {current}, written by a newer version of "
                               f"this app; expected version {latest} or older (upgrade the app, or set MGMT_DB to "
                               "another file).")
    if current == latest:
        return current
    connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                       "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for migration in migrations:
        if migration.version <= current:
            continue
        try:
            for statement in migration.statements:
                connection.execute(statement)
        except duckdb.CatalogException as err:
            raise StoreUnavailable(f"The database '{path}' holds tables this app did not create at schema version "
                                   f"{current} ({str(err).splitlines()[0]}); expected a new file or one written by "
                                   "this app (set MGMT_DB to another file).") from err
        connection.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                           [migration.version, migration.description, utc_naive(datetime.now(UTC))])
    return latest
