"""Storage: the prediction log, cohort tables and model metrics, in a DuckDB file or a shared PostgreSQL server."""

from core.store.cohort_tables import TRAINING_COHORT
from core.store.connection import StoreBusy, StoreDamaged, StoreUnavailable
from core.store.log import STATUSES, PredictionRecord
from core.store.store import Store

__all__ = ["STATUSES", "TRAINING_COHORT", "PredictionRecord", "Store", "StoreBusy", "StoreDamaged", "StoreUnavailable"]
