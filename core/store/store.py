"""The Store: the prediction log, cohorts and model metrics, in a DuckDB file (default) or a PostgreSQL server.

Every method is one short transaction (see ``session``). On a DuckDB file (``duckdb_file``): threads of this
process take turns, another process on the same file waits its turn or gets ``StoreBusy`` naming the file, and a
file whose content is damaged is set aside when a Store opens it. On PostgreSQL (``postgres_server``, for several
app replicas sharing one log): each operation has its own connection, so a server that went away and came back is
simply used again; while it is away every operation raises ``StoreUnavailable`` naming it and the cause.

Example:
    >>> import tempfile
    >>> store = Store(Path(tempfile.mkdtemp()) / "mgmt.duckdb")
    >>> store.cohorts("weights", "local")
    []
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from core.config import DATABASE_URL_SCHEMES
from core.store import cohort_tables as cohort
from core.store import log
from core.store.connection import StoreBusy, StoreUnavailable
from core.store.duckdb_file import DuckDBFile
from core.store.log import PredictionRecord
from core.store.session import Backend

if TYPE_CHECKING:
    from core.model.hub import ModelSource  # imports torch: for the type only

logger = logging.getLogger(__name__)


def open_backend(location: Path | str, lock_timeout_s: float, recover: bool) -> Backend:
    """The engine for ``location``: a ``postgresql://`` URL opens the server (psycopg, from requirements-scale.txt),
    anything else is the path of a DuckDB file."""
    if isinstance(location, str) and location.startswith(DATABASE_URL_SCHEMES):
        from core.store.postgres_server import PostgresServer  # psycopg is optional: only for a server

        return PostgresServer(location, lock_timeout_s)
    return DuckDBFile(Path(location), lock_timeout_s, recover)


class Store:
    """Prediction log, cohort tables and model metrics, created or migrated on open."""

    def __init__(self, location: Path | str, lock_timeout_s: float = 10.0, recover: bool = True) -> None:
        """Open (creating or migrating) the DuckDB file or PostgreSQL database at ``location`` (a path or a
        ``postgresql://`` URL); with ``recover`` a damaged DuckDB file is set aside and replaced."""
        self.backend = open_backend(location, lock_timeout_s, recover)
        self.path: Path | str = self.backend.location
        """The DuckDB file, or the server's URL without its password: what messages name."""

    def __repr__(self) -> str:
        return f"Store('{self.path}')"

    @property
    def schema_version(self) -> int:
        return self.backend.schema_version

    @property
    def set_aside(self) -> Path | None:
        """Where a damaged file found at start was moved (None when there was none, and on PostgreSQL)."""
        return self.backend.set_aside

    def log_prediction(self, record: PredictionRecord) -> int | None:
        """Append one attempt to the log, committed before returning; its id, or None when it could not be written:
        another process held the file past the timeout, or the file is unusable (damaged, disk full). The caller
        reports the prediction as not logged; a warning names the file and the cause."""
        try:
            with self.backend.transaction() as session:
                return log.insert(session, record)
        except (StoreBusy, StoreUnavailable) as err:
            logger.warning("Prediction not logged: %s", err.user_message)
            return None

    def predictions(self, limit: int = 1000, *, status: log.Choice = None, user: str | None = None,
                    since: datetime | None = None, model_revision: log.Choice = None) -> pd.DataFrame:
        """The latest log rows (newest first) matching every filter given (``status`` and ``model_revision``:
        one value or any of several); columns as ``log.COLUMNS``."""
        with self.backend.transaction() as session:
            return log.select(session, limit, status=status, user=user, since=since,
                              model_revision=model_revision)

    def prediction_counts(self, *, status: log.Choice = None, user: str | None = None,
                          since: datetime | None = None, model_revision: log.Choice = None) -> dict[str, int]:
        """How many log rows match the filters (as ``predictions`` takes them), per status, with no limit."""
        with self.backend.transaction() as session:
            return log.count_by_status(session, status=status, user=user, since=since,
                                       model_revision=model_revision)

    def model_revisions(self) -> list[str]:
        """The model revisions the prediction log has rows of."""
        with self.backend.transaction() as session:
            return log.model_revisions(session)

    def purge(self, older_than_days: float) -> int:
        """Delete prediction-log rows older than the given age; how many were deleted."""
        with self.backend.transaction() as session:
            return log.delete_older_than(session, older_than_days)

    def count_older_than(self, days: float) -> tuple[int, int]:
        """How many prediction-log rows are older than the given age, and how many there are in all."""
        with self.backend.transaction() as session:
            return log.count_older_than(session, days)

    def import_training_cohort(self, source: ModelSource, metrics: dict[str, Any]) -> int:
        """Store the model's out-of-fold predictions (``oof.csv`` in its folder) as its training cohort and its
        metrics, replacing earlier copies; the number of cohort rows (0 when the folder has no oof.csv)."""
        oof = Path(source.folder) / "oof.csv"
        cases = cohort.read_oof(oof) if oof.is_file() else pd.DataFrame(columns=list(cohort.CASE_COLUMNS))
        with self.backend.transaction() as session:
            written = cohort.write_cases(session, cohort.TRAINING_COHORT, source.repo, source.revision, cases)
            cohort.write_metrics(session, source.repo, source.revision, metrics)
        return written

    def replace_cohort(self, name: str, model_repo: str, model_revision: str, cases: pd.DataFrame) -> int:
        """Replace cohort ``name`` of the model with ``cases`` (case, fold, label, probability) at once; rows."""
        with self.backend.transaction() as session:
            return cohort.write_cases(session, name, model_repo, model_revision, cases)

    def cohort(self, name: str, model_repo: str, model_revision: str) -> pd.DataFrame:
        """Cases of one cohort of the model: case, fold, label, probability (empty when there is none)."""
        with self.backend.transaction() as session:
            return cohort.read_cases(session, name, model_repo, model_revision)

    def cohorts(self, model_repo: str, model_revision: str) -> list[str]:
        """Names of the model's cohorts, the training cohort first."""
        with self.backend.transaction() as session:
            return cohort.cohort_names(session, model_repo, model_revision)

    def model_metrics(self, model_repo: str, model_revision: str) -> dict | None:
        """The metrics saved with the model's training cohort, or None."""
        with self.backend.transaction() as session:
            return cohort.read_metrics(session, model_repo, model_revision)
