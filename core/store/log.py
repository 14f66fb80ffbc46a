"""The prediction log: one row per attempt (ok, rejected upload, failure), with timings and provenance.

A row holds the salted study hash the Study carries and nothing else about the patient; error messages
arrive already redacted (``core.service.redact``).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from core.errors import InputError
from core.store.schema import utc_naive
from core.store.session import Session

STATUSES = ("ok", "abstained", "rejected", "too_large", "timeout", "disconnected", "failed")
"""ok: a probability was returned; abstained: computed, but the tool declined to call it (``reasons`` say why);
rejected: the input could not be used (an InputError); too_large: an upload beyond a size or count limit;
timeout: an upload whose body stalled or crawled (REST 408); disconnected: the client went away before its
upload had arrived; failed: the service's problem (model, store, disk) or a bug (core.errors.DISPOSITIONS decides
which)."""
COLUMNS = ("id", "time", "channel", "user", "study_hash", "probability", "label", "uncertainty_std", "interval_low",
           "interval_high", "model_repo", "model_revision", "preprocessing_version", "timings_s", "status", "error",
           "reasons")
"""The columns of ``Store.predictions()``, in order."""
_WRITTEN = COLUMNS[1:]
_TYPES = {"id": "int64", "time": "datetime64[us]", **{name: "float64" for name in (
    "probability", "uncertainty_std", "interval_low", "interval_high")}}
_TYPES.update({name: "str" for name in COLUMNS if name not in _TYPES})
"""The pandas type of each column of ``Store.predictions()`` (``time`` then gets its UTC zone)."""


@dataclass(frozen=True)
class PredictionRecord:
    """One prediction attempt as the log keeps it."""

    channel: str  # "app", "api", "cli"
    user: str  # "anonymous" for the open demo
    status: str  # one of STATUSES
    study_hash: str | None
    probability: float | None
    label: str | None
    uncertainty_std: float | None
    interval_low: float | None
    interval_high: float | None
    model_repo: str
    model_revision: str
    preprocessing_version: str | None
    timings_s: dict[str, float]
    error: str | None
    reasons: tuple[str, ...] = ()  # why an abstained prediction abstained (sentences without file names)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"PredictionRecord status is {self.status!r}; expected one of {', '.join(STATUSES)}.")

    def row(self) -> list[Any]:
        """The values of the written columns, in their order (time in UTC, timings as JSON text)."""
        values = {name: getattr(self, name) for name in _WRITTEN}
        values["time"] = utc_naive(self.time)
        values["timings_s"] = json.dumps(self.timings_s)
        values["reasons"] = json.dumps(list(self.reasons)) if self.reasons else None
        return [values[name] for name in _WRITTEN]


def insert(session: Session, record: PredictionRecord) -> int:
    """Append ``record``; the new row's id."""
    names = ", ".join(f'"{name}"' for name in _WRITTEN)
    parameters = ", ".join("?" for _ in _WRITTEN)
    row = session.row(f"INSERT INTO predictions ({names}) VALUES ({parameters}) RETURNING id", record.row())
    assert row is not None
    return int(row[0])


def _checked_status(status: str) -> str:
    if status not in STATUSES:
        close = difflib.get_close_matches(status, STATUSES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"Status filter is '{status}'; expected one of {', '.join(STATUSES)}{hint}.")
    return status


Choice = str | Collection[str] | None
"""A filter on one column: one value, any of several (an empty collection matches nothing), or None (any)."""


def _values(choice: Choice) -> list[str] | None:
    return None if choice is None else [choice] if isinstance(choice, str) else list(choice)


def _where(status: Choice, user: str | None, since: datetime | None, model_revision: Choice
           ) -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and its parameters for rows matching every given filter."""
    statuses = _values(status)
    filters = {"status": None if statuses is None else [_checked_status(name) for name in statuses],
               "user": _values(user), "model_revision": _values(model_revision)}
    conditions, parameters = [], []
    for name, values in filters.items():
        if values is not None:
            conditions.append(f'"{name}" IN ({", ".join("?" for _ in values)})' if values else "FALSE")
            parameters += values
    if since is not None:
        conditions.append("time >= ?")
        parameters.append(utc_naive(since))
    return (f"WHERE {' AND '.join(conditions)}" if conditions else ""), parameters


def select(session: Session, limit: int, *, status: Choice, user: str | None,
           since: datetime | None, model_revision: Choice) -> pd.DataFrame:
    """Rows matching every given filter, newest first, at most ``limit``; ``time`` as UTC timestamps."""
    if limit < 1:
        raise InputError(f"Limit is {limit}; expected at least 1 row.")
    where, parameters = _where(status, user, since, model_revision)
    names = ", ".join(f'"{name}"' for name in COLUMNS)
    frame = session.frame(f"SELECT {names} FROM predictions {where} ORDER BY time DESC, id DESC LIMIT ?",
                          [*parameters, int(limit)], _TYPES)
    frame["time"] = frame["time"].dt.tz_localize("UTC")
    return frame


def count_by_status(session: Session, *, status: Choice, user: str | None, since: datetime | None,
                    model_revision: Choice) -> dict[str, int]:
    """How many rows match every given filter, per status (every status named, 0 when none)."""
    where, parameters = _where(status, user, since, model_revision)
    counted = dict(session.rows(f"SELECT status, count(*) FROM predictions {where} GROUP BY status", parameters))
    return {name: int(counted.get(name, 0)) for name in STATUSES}


def model_revisions(session: Session) -> list[str]:
    """Every model revision the log has rows of, sorted."""
    return sorted(str(row[0]) for row in session.rows(
        "SELECT DISTINCT model_revision FROM predictions WHERE model_revision IS NOT NULL"))


def _cutoff(days: float) -> datetime | None:
    """The time before which rows are older than ``days`` (None: further back than any time can be)."""
    if not days >= 0:
        raise InputError(f"Purge age is {days} days; expected 0 or more.")
    try:
        return utc_naive(datetime.now(UTC) - timedelta(days=days))
    except OverflowError:
        return None


def count_older_than(session: Session, days: float) -> tuple[int, int]:
    """How many log rows are older than ``days``, and how many rows there are."""
    cutoff = _cutoff(days)
    row = session.row("SELECT count(*) FILTER (WHERE time < ?), count(*) FROM predictions", [cutoff])
    return (int(row[0] or 0), int(row[1])) if row else (0, 0)


def delete_older_than(session: Session, days: float) -> int:
    """Delete log rows older than ``days``; how many went."""
    cutoff = _cutoff(days)
    if cutoff is None:
        return 0
    return session.changed("DELETE FROM predictions WHERE time < ?", [cutoff])
