"""The database schema as an ordered list of migrations; ``schema_version`` records which ones a database has.

A database (DuckDB file or PostgreSQL server) is brought to the latest version when a Store opens it, inside one
transaction, so a crash or a second process never leaves it half-migrated. Never edit a released migration: append
a new one, with its statements for both engines (the PostgreSQL ones differ only in type names).
Times are stored as UTC (``TIMESTAMP`` without zone: reading a zoned one back needs pytz, which we do not ship).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.store.connection import StoreUnavailable
from core.store.session import Session


@dataclass(frozen=True)
class Migration:
    """One step of the schema: its version number, what it does, and its SQL statements (DuckDB, PostgreSQL)."""

    version: int
    description: str
    statements: tuple[str, ...]
    postgresql: tuple[str, ...] | None = None
    """The same step in PostgreSQL's types, when they differ (None: ``statements`` run there as they are)."""

    def statements_for(self, dialect: str) -> tuple[str, ...]:
        """The statements to run on an engine (``duckdb`` or ``postgresql``)."""
        return self.postgresql if dialect == "postgresql" and self.postgresql is not None else self.statements


_PREDICTIONS = """CREATE TABLE predictions (
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
            error VARCHAR)"""
_COHORT_CASES = """CREATE TABLE cohort_cases (
            cohort VARCHAR NOT NULL,
            model_repo VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL,
            "case" VARCHAR NOT NULL,
            fold INTEGER,
            label INTEGER CHECK (label IN (0, 1)),
            probability DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
            written_at TIMESTAMP NOT NULL)"""
_MODEL_METRICS = """CREATE TABLE model_metrics (
            model_repo VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL,
            metrics VARCHAR NOT NULL,
            written_at TIMESTAMP NOT NULL)"""


_STATUSES_V3 = "'ok', 'abstained', 'rejected', 'too_large', 'timeout', 'disconnected', 'failed'"


def _predictions_table(name: str, statuses: str) -> str:
    """The prediction log's table (version 2 columns) under ``name``, its status one of ``statuses``."""
    table = _PREDICTIONS.replace("predictions (", f"{name} (").replace("'ok', 'rejected', 'failed'", statuses)
    return table.replace("error VARCHAR)", "error VARCHAR,\n            reasons VARCHAR)")


def _in_postgresql(statement: str) -> str:
    """A version-1 statement in PostgreSQL's type names (DOUBLE is DOUBLE PRECISION there)."""
    return statement.replace(" DOUBLE", " DOUBLE PRECISION")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "prediction log, cohort cases and model metrics",
              ("CREATE SEQUENCE prediction_ids START 1", _PREDICTIONS, _COHORT_CASES, _MODEL_METRICS),
              ("CREATE SEQUENCE prediction_ids START 1", *map(_in_postgresql, (_PREDICTIONS, _COHORT_CASES,
                                                                                _MODEL_METRICS)))),
    Migration(2, "abstained predictions as their own status, with their reasons",
              # DuckDB cannot alter a CHECK constraint: the table is rebuilt with the wider one and the rows copied.
              (_PREDICTIONS.replace("predictions (", "predictions_v2 (").replace(
                  "'ok', 'rejected', 'failed'", "'ok', 'abstained', 'rejected', 'failed'").replace(
                  "error VARCHAR)", "error VARCHAR,\n            reasons VARCHAR)"),
               "INSERT INTO predictions_v2 SELECT *, NULL FROM predictions",
               "DROP TABLE predictions",
               "ALTER TABLE predictions_v2 RENAME TO predictions"),
              ("ALTER TABLE predictions DROP CONSTRAINT predictions_status_check",
               "ALTER TABLE predictions ADD CONSTRAINT predictions_status_check "
               "CHECK (status IN ('ok', 'abstained', 'rejected', 'failed'))",
               "ALTER TABLE predictions ADD COLUMN reasons VARCHAR")),
    Migration(3, "refused uploads by kind: too large, timed out, client gone",
              (_predictions_table("predictions_v3", _STATUSES_V3),
               "INSERT INTO predictions_v3 SELECT * FROM predictions",
               "DROP TABLE predictions",
               "ALTER TABLE predictions_v3 RENAME TO predictions"),
              ("ALTER TABLE predictions DROP CONSTRAINT predictions_status_check",
               f"ALTER TABLE predictions ADD CONSTRAINT predictions_status_check CHECK (status IN ({_STATUSES_V3}))")),
)
"""Every schema version in order; the last one is what this code reads and writes."""


def utc_naive(moment: datetime) -> datetime:
    """``moment`` in UTC without a zone, as stored (a naive datetime is taken to be UTC already)."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def schema_version(session: Session) -> int:
    """The latest migration applied to the open database (0 for one that has none)."""
    found = session.row("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
                        "AND table_schema = current_schema()")
    if not found or not found[0]:
        return 0
    row = session.row("SELECT coalesce(max(version), 0) FROM schema_version")
    return int(row[0]) if row else 0


def _setting(where: Path | str) -> str:
    return "MGMT_DB_URL to another database" if isinstance(where, str) else "MGMT_DB to another file"


def migrate(session: Session, where: Path | str, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Apply the migrations the database lacks, in order (within the caller's transaction); the version reached.
    ``where`` (the file, or the server's URL without password) is what error messages name."""
    session.lock_schema()
    current = schema_version(session)
    latest = migrations[-1].version
    if current > latest:
        raise StoreUnavailable(f"The database '{where}' has schema version {current}, written by a newer version of "
                               f"this app; expected version {latest} or older (upgrade the app, or set "
                               f"{_setting(where)}).")
    if current == latest:
        return current
    session.changed("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, "
                    "description VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for migration in migrations:
        if migration.version <= current:
            continue
        try:
            for statement in migration.statements_for(session.dialect):
                session.changed(statement)
        except session.schema_conflicts as err:
            raise StoreUnavailable(f"The database '{where}' holds tables this app did not create at schema version "
                                   f"{current} ({str(err).splitlines()[0]}); expected a new database or one written "
                                   f"by this app (set {_setting(where)}).") from err
        session.changed("INSERT INTO schema_version VALUES (?, ?, ?)",
                        [migration.version, migration.description, utc_naive(datetime.now(UTC))])
    return latest
