"""The prediction log: exact round trip, filters, order, limit and purging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from core.errors import InputError
from core.store import PredictionRecord, Store
from core.store.log import COLUMNS, STATUSES
from tests.store.conftest import RECORD, record


def test_a_logged_prediction_reads_back_with_its_exact_values(store: Store) -> None:
    row_id = store.log_prediction(RECORD)
    rows = store.predictions()
    assert list(rows.columns) == list(COLUMNS) and len(rows) == 1
    row = rows.iloc[0]
    assert row["id"] == row_id
    for name in ("channel", "user", "status", "study_hash", "probability", "label", "uncertainty_std",
                 "interval_low", "interval_high", "model_repo", "model_revision", "preprocessing_version"):
        assert row[name] == getattr(RECORD, name), name
    assert pd.isna(row["error"])
    assert row["time"] == pd.Timestamp(RECORD.time)


def test_timings_round_trip_as_json_text_in_their_order(store: Store) -> None:
    store.log_prediction(RECORD)
    text = store.predictions().iloc[0]["timings_s"]
    assert json.loads(text) == RECORD.timings_s
    assert list(json.loads(text)) == ["staging", "read", "model", "total"]


def test_a_time_in_another_zone_is_stored_as_the_same_instant(store: Store) -> None:
    berlin = datetime(2025, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    store.log_prediction(record(time=berlin))
    assert store.predictions().iloc[0]["time"] == pd.Timestamp("2025-03-01 12:30", tz="UTC")


def test_a_rejected_attempt_keeps_nulls_and_its_error(store: Store) -> None:
    rejected = record(status="rejected", study_hash=None, probability=None, label=None, uncertainty_std=None,
                      interval_low=None, interval_high=None, error="'…' is empty; expected a study folder.")
    store.log_prediction(rejected)
    row = store.predictions().iloc[0]
    assert row["status"] == "rejected" and row["error"] == rejected.error
    assert all(pd.isna(row[name]) for name in ("study_hash", "probability", "label", "interval_low"))


def test_ids_grow_and_rows_come_newest_first(store: Store) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [store.log_prediction(record(time=start + timedelta(minutes=m), probability=m / 10)) for m in (2, 0, 1)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert store.predictions()["probability"].tolist() == [0.2, 0.1, 0.0]


def test_limit_keeps_the_newest_rows(store: Store) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for minute in range(5):
        store.log_prediction(record(time=start + timedelta(minutes=minute), probability=minute / 10))
    assert store.predictions(limit=2)["probability"].tolist() == [0.4, 0.3]


def test_status_user_revision_and_since_filters_combine(store: Store) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    store.log_prediction(record(time=start, user="ann"))
    store.log_prediction(record(time=start + timedelta(days=1), user="ann", status="failed", error="ValueError: x"))
    store.log_prediction(record(time=start + timedelta(days=2), user="bob", model_revision="local"))
    store.log_prediction(record(time=start + timedelta(days=3), user="ann"))
    assert len(store.predictions(status="ok")) == 3
    assert store.predictions(status="failed")["error"].tolist() == ["ValueError: x"]
    assert store.predictions(user="bob")["model_revision"].tolist() == ["local"]
    assert len(store.predictions(model_revision=RECORD.model_revision)) == 3
    later = store.predictions(user="ann", status="ok", since=start + timedelta(hours=12))
    assert later["time"].tolist() == [pd.Timestamp(start + timedelta(days=3))]


def _one_old_abstention_under_newer_calls(store: Store) -> datetime:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    store.log_prediction(record(time=start, status="abstained", probability=0.51, model_revision="old"))
    for minute in range(1, 6):
        store.log_prediction(record(time=start + timedelta(minutes=minute), probability=minute / 10))
    store.log_prediction(record(time=start + timedelta(minutes=9), status="failed", error="ValueError: x"))
    return start


def test_a_status_filter_finds_an_older_row_beyond_the_limit_of_unfiltered_rows(store: Store) -> None:
    _one_old_abstention_under_newer_calls(store)
    assert "abstained" not in store.predictions(limit=3)["status"].tolist()
    found = store.predictions(limit=3, status=["abstained", "failed"])
    assert found["status"].tolist() == ["failed", "abstained"] and found["probability"].tolist()[1] == 0.51


def test_a_revision_filter_takes_several_revisions_and_an_empty_choice_matches_nothing(store: Store) -> None:
    _one_old_abstention_under_newer_calls(store)
    assert len(store.predictions(model_revision=["old", RECORD.model_revision])) == 7
    assert store.predictions(model_revision=["old"])["status"].tolist() == ["abstained"]
    assert store.predictions(status=[]).empty and list(store.predictions(status=[]).columns) == list(COLUMNS)


def test_counts_by_status_cover_every_matching_row_with_no_limit(store: Store) -> None:
    start = _one_old_abstention_under_newer_calls(store)
    none = dict.fromkeys(STATUSES, 0)
    assert store.prediction_counts() == {**none, "ok": 5, "abstained": 1, "failed": 1}
    assert store.prediction_counts(since=start + timedelta(minutes=2), status=["ok", "abstained"]) == {**none, "ok": 4}


def test_the_revisions_in_the_log_are_listed_once_each(store: Store) -> None:
    _one_old_abstention_under_newer_calls(store)
    assert store.model_revisions() == sorted(["old", RECORD.model_revision])


def test_an_unknown_status_filter_suggests_the_nearest(store: Store) -> None:
    with pytest.raises(InputError, match="did you mean 'rejected'"):
        store.predictions(status="rejectd")


def test_a_record_with_an_unknown_status_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="expected one of ok, abstained, rejected, too_large, timeout, disconnected, "
                                         "failed"):
        record(status="done")


def test_an_empty_log_has_the_columns(store: Store) -> None:
    rows = store.predictions()
    assert rows.empty and list(rows.columns) == list(COLUMNS)


def test_purge_deletes_only_rows_older_than_the_age(store: Store) -> None:
    now = datetime.now(UTC)
    for days in (40, 31, 29, 0):
        store.log_prediction(record(time=now - timedelta(days=days), probability=days / 100))
    assert store.purge(30) == 2
    assert store.predictions()["probability"].tolist() == [0.0, 0.29]
    assert store.purge(30) == 0


def test_purge_refuses_a_negative_age(store: Store) -> None:
    with pytest.raises(InputError, match="expected 0 or more"):
        store.purge(-1)


def test_the_default_time_is_now_in_utc() -> None:
    before = datetime.now(UTC)
    made = PredictionRecord(**{name: value for name, value in RECORD.__dict__.items() if name != "time"})
    assert made.time.tzinfo is UTC and before <= made.time <= datetime.now(UTC)
