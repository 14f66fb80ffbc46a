"""The Store: the app's one DuckDB file (prediction log, cohorts, model metrics), safe to share.

Every method is one short transaction on a fresh connection (see ``connection``): threads of this process
take turns, another process on the same file waits its turn or gets ``StoreBusy`` naming the file.

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
from typing import TYPE_CHECKING

import pandas as pd

from core.errors import InputError
from core.store import cohort, log
from core.store.connection import StoreBusy, transaction
from core.store.log import PredictionRecord
from core.store.schema import migrate

if TYPE_CHECKING:
    from core.model.hub import ModelSource  # imports torch: for the type only

logger = logging.getLogger(__name__)


class Store:
    """Prediction log, cohort tables and model metrics in one DuckDB file, created or migrated on open."""

    def __init__(self, path: Path, lock_timeout_s: float = 10.0) -> None:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"The folder of the database '{path}' cannot be created ({err}); expected a writable "
                             "location (set MGMT_DB or MGMT_DATA_DIR).") from err
        self.path = path.resolve()
        self.lock_timeout_s = lock_timeout_s
        with transaction(self.path, self.lock_timeout_s) as connection:
            self.schema_version = migrate(connection, self.path)

    def __repr__(self) -> str:
        return f"Store('{self.path}')"

    def log_prediction(self, record: PredictionRecord) -> int | None:
        """Append one attempt to the log, committed before returning; its id, or None when another process held
        the file past the timeout (the caller reports the prediction as not logged; a warning names the file)."""
        try:
            with transaction(self.path, self.lock_timeout_s) as connection:
                return log.insert(connection, record)
        except StoreBusy as err:
            logger.warning("Prediction not logged: %s", err.user_message)
            return None

    def predictions(self, limit: int = 1000, *, status: str | None = None, user: str | None = None,
                    since: datetime | None = None, model_revision: str | None = None) -> pd.DataFrame:
        """The latest log rows (newest first) matching every filter given; columns as ``log.COLUMNS``."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            return log.select(connection, limit, status=status, user=user, since=since,
                              model_revision=model_revision)

    def purge(self, older_than_days: float) -> int:
        """Delete prediction-log rows older than the given age; how many were deleted."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            return log.delete_older_than(connection, older_than_days)

    def import_training_cohort(self, source: ModelSource, metrics: dict) -> int:
        """Store the model's out-of-fold predictions (``oof.csv`` in its folder) as its training cohort and its
        metrics, replacing earlier copies; the number of cohort rows (0 when the folder has no oof.csv)."""
        oof = Path(source.folder) / "oof.csv"
        cases = cohort.read_oof(oof) if oof.is_file() else pd.DataFrame(columns=list(cohort.CASE_COLUMNS))
        with transaction(self.path, self.lock_timeout_s) as connection:
            written = cohort.write_cases(connection, cohort.TRAINING_COHORT, source.repo, source.revision, cases)
            cohort.write_metrics(connection, source.repo, source.revision, metrics)
        return written

    def replace_cohort(self, name: str, model_repo: str, model_revision: str, cases: pd.DataFrame) -> int:
        """Replace cohort ``name`` of the model with ``cases`` (case, fold, label, probability) at once; rows."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            return cohort.write_cases(connection, name, model_repo, model_revision, cases)

    def cohort(self, name: str, model_repo: str, model_revision: str) -> pd.DataFrame:
        """Cases of one cohort of the model: case, fold, label, probability (empty when there is none)."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            return cohort.read_cases(connection, name, model_repo, model_revision)

    def cohorts(self, model_repo: str, model_revision: str) -> list[str]:
        """Names of the model's cohorts, the training cohort first."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            return cohort.cohort_names(connection, model_repo, model_revision)

    def model_metrics(self, model_repo: str, model_revision: str) -> dict | None:
        """The metrics saved with the model's training cohort, or None."""
        with transaction(self.path, self.lock_timeout_s) as connection:
            return cohort.read_metrics(connection, model_repo, model_revision)
