"""The Store: the app's one DuckDB file (prediction log, cohorts, model metrics), safe to share.

Every method is one short transaction on a fresh connection (see ``connection``): threads of this process
take turns, another process on the same file waits its turn or gets ``StoreBusy`` naming the file.
A file whose content is damaged is set aside when a Store opens it (see ``recovery``), and a fresh one made.

Example:
    >>> import tempfile
    >>> store = Store(Path(tempfile.mkdtemp()) / "mgmt.duckdb")
    >>> store.cohorts("weights", "local")
    []
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from core.store import cohort_tables as cohort
from core.store import log
from core.store.connection import StoreBusy, StoreDamaged, StoreUnavailable, cause_of, file_lock, transaction
from core.store.log import PredictionRecord
from core.store.recovery import file_identity, read_through, set_aside
from core.store.schema import migrate

if TYPE_CHECKING:
    from core.model.hub import ModelSource  # imports torch: for the type only

logger = logging.getLogger(__name__)


class Store:
    """Prediction log, cohort tables and model metrics in one DuckDB file, created or migrated on open."""

    def __init__(self, path: Path, lock_timeout_s: float = 10.0, recover: bool = True) -> None:
        """Open (creating or migrating) the file; with ``recover`` a damaged one is set aside and replaced."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreUnavailable(f"The folder of the database '{path}' cannot be created ({err}); expected a "
                                   "writable location (set MGMT_DB or MGMT_DATA_DIR).") from err
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

    def __repr__(self) -> str:
        return f"Store('{self.path}')"

    def _migrate(self) -> int:
        """Bring the file to the latest schema and read it through once; the schema version."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            version = migrate(connection, self.path)
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
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the file; a file removed while the app runs is created afresh, with its schema."""
        missing = not self.path.exists()
        with transaction(self.path, self.lock_timeout_s) as connection:
            if missing:
                logger.warning("The database '%s' had gone; a fresh one was created.", self.path)
                migrate(connection, self.path)
            yield connection

    def log_prediction(self, record: PredictionRecord) -> int | None:
        """Append one attempt to the log, committed before returning; its id, or None when it could not be written:
        another process held the file past the timeout, or the file is unusable (damaged, disk full). The caller
        reports the prediction as not logged; a warning names the file and the cause."""
        try:
            with self._transaction() as connection:
                return log.insert(connection, record)
        except (StoreBusy, StoreUnavailable) as err:
            logger.warning("Prediction not logged: %s", err.user_message)
            return None

    def predictions(self, limit: int = 1000, *, status: str | None = None, user: str | None = None,
                    since: datetime | None = None, model_revision: str | None = None) -> pd.DataFrame:
        """The latest log rows (newest first) matching every filter given; columns as ``log.COLUMNS``."""
        with self._transaction() as connection:
            return log.select(connection, limit, status=status, user=user, since=since,
                              model_revision=model_revision)

    def purge(self, older_than_days: float) -> int:
        """Delete prediction-log rows older than the given age; how many were deleted."""
        with self._transaction() as connection:
            return log.delete_older_than(connection, older_than_days)

    def count_older_than(self, days: float) -> tuple[int, int]:
        """How many prediction-log rows are older than the given age, and how many there are in all."""
        with self._transaction() as connection:
            return log.count_older_than(connection, days)

    def import_training_cohort(self, source: ModelSource, metrics: dict[str, Any]) -> int:
        """Store the model's out-of-fold predictions (``oof.csv`` in its folder) as its training cohort and its
        metrics, replacing earlier copies; the number of cohort rows (0 when the folder has no oof.csv)."""
        oof = Path(source.folder) / "oof.csv"
        cases = cohort.read_oof(oof) if oof.is_file() else pd.DataFrame(columns=list(cohort.CASE_COLUMNS))
        with self._transaction() as connection:
            written = cohort.write_cases(connection, cohort.TRAINING_COHORT, source.repo, source.revision, cases)
            cohort.write_metrics(connection, source.repo, source.revision, metrics)
        return written

    def replace_cohort(self, name: str, model_repo: str, model_revision: str, cases: pd.DataFrame) -> int:
        """Replace cohort ``name`` of the model with ``cases`` (case, fold, label, probability) at once; rows."""
        with self._transaction() as connection:
            return cohort.write_cases(connection, name, model_repo, model_revision, cases)

    def cohort(self, name: str, model_repo: str, model_revision: str) -> pd.DataFrame:
        """Cases of one cohort of the model: case, fold, label, probability (empty when there is none)."""
        with self._transaction() as connection:
            return cohort.read_cases(connection, name, model_repo, model_revision)

    def cohorts(self, model_repo: str, model_revision: str) -> list[str]:
        """Names of the model's cohorts, the training cohort first."""
        with self._transaction() as connection:
            return cohort.cohort_names(connection, model_repo, model_revision)

    def model_metrics(self, model_repo: str, model_revision: str) -> dict | None:
        """The metrics saved with the model's training cohort, or None."""
        with self._transaction() as connection:
            return cohort.read_metrics(connection, model_repo, model_revision)
