"""Pages lay out what core answers: History filters in the store's query and counts abstentions, Inspect reads
through the Service (admission included), the Cohort page marks only the session's calls."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.service import Outcome, Service, reset_service
from tests.api.uploads import study_zip
from tests.conftest import write_study
from tests.store.conftest import record
from tests.test_app import app_test, metrics_of, signed_in


@pytest.fixture
def service(tmp_path: Path):
    """The process's service on a fresh store, one slot and no queue; put back afterwards."""
    settings = replace(get_settings(), db_path=tmp_path / "mgmt.duckdb", max_concurrent=1, queue_size=0,
                       queue_timeout_s=0.5)
    made = Service(settings=settings, import_cohort=False)
    reset_service(made)
    yield made
    reset_service()


@pytest.fixture
def without_t2w(tmp_path: Path) -> bytes:
    """A small DICOM study whose T2w series is absent, zipped as a visitor uploads it."""
    root = tmp_path / "study" / "00042"
    write_study(root)
    shutil.rmtree(root / "T2w")
    return study_zip(root)


@pytest.fixture
def history(service: Service, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The History page, for an admin, at most 10 rows, over a log of one abstention under twelve newer calls."""
    now = datetime.now(UTC)
    service.store.log_prediction(record(time=now - timedelta(days=3), status="abstained",
                                        reasons=("No tumour was found.",)))
    for hours in range(12):
        service.store.log_prediction(record(time=now - timedelta(hours=hours + 1)))
    app = signed_in(monkeypatch, "admin@example.org", admins="admin@example.org")
    app.switch_page("pages/history.py").run()
    return app.number_input[0].set_value(10).run()


def test_history_finds_an_older_abstention_beyond_the_limit_of_newer_rows(history: AppTest) -> None:
    history.multiselect[0].set_value(["abstained"]).run()
    assert not history.exception
    shown = history.dataframe[0].value
    assert shown["status"].tolist() == ["abstained"] and shown["reasons"].tolist() == ['["No tumour was found."]']
    assert metrics_of(history)["abstained"] == "1" and metrics_of(history)["Predictions"] == "1"


def test_history_counts_every_matching_row_by_status_past_the_limit(history: AppTest) -> None:
    shown = metrics_of(history)
    assert (shown["Predictions"], shown["ok"], shown["abstained"], shown["failed"]) == ("13", "12", "1", "0")
    assert len(history.dataframe[0].value) == 10
    assert any(c.value.startswith("The newest 10 of 13 matching rows are shown") for c in history.caption)


def test_inspect_waits_its_turn_at_the_services_admission_gate(service: Service, without_t2w: bytes) -> None:
    app = app_test().run()
    app.switch_page("pages/inspect.py").run()
    with service.admission.enter():  # the one place is taken by a study being analysed
        app.file_uploader[0].upload("study.zip", without_t2w, "application/zip").run()
    assert not app.exception
    assert [e.value for e in app.error][0].startswith("The service is busy: The service is busy")
    assert not app.dataframe


def test_inspect_of_a_study_without_t2w_says_the_series_is_missing_not_that_it_predicted(
        service: Service, without_t2w: bytes) -> None:
    app = app_test().run()
    app.switch_page("pages/inspect.py").run()
    app.file_uploader[0].upload("study.zip", without_t2w, "application/zip").run()
    assert not app.exception
    assert app.dataframe[0].value["sequence"].tolist() == ["FLAIR", "T1w", "T1wCE"]
    assert [w.value for w in app.warning] == [
        "No usable T2w series (absent or blank): a prediction is made without it, telling the model so, and its "
        "interval is as wide as that makes it."]


class AbstainingService(Service):
    """The real service, whose answers are then turned into abstentions (as an out-of-distribution study's are)."""

    def predict(self, *args, **kwargs) -> Outcome:
        outcome = super().predict(*args, **kwargs)
        abstained = outcome.prediction.with_result(abstained=True, label="indeterminate",
                                                   reasons=("The study is out of distribution.",))
        return Outcome(abstained, outcome.documents)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "marked"), [(Service, 1), (AbstainingService, 0)])
def test_the_cohort_page_marks_the_sessions_calls_and_not_its_abstentions(tmp_path: Path, kind: type[Service],
                                                                         marked: int) -> None:
    reset_service(kind(settings=replace(get_settings(), db_path=tmp_path / "mgmt.duckdb")).start())
    try:
        app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300).run()
        app.switch_page("pages/predict.py").run()
        app.button(key="predict").click().run()
        probability = app.session_state["outcome"].prediction.result.probability
        app.switch_page("pages/cohort.py").run()
    finally:
        reset_service()
    assert not app.exception
    marked_now = app.session_state["session_probabilities"] if "session_probabilities" in app.session_state else []
    assert marked_now == [probability] * marked
    marks = [c.value for c in app.caption if c.value.startswith("Orange lines")]
    assert marks == ([f"Orange lines: the {marked} prediction(s) of this session."] if marked else [])
