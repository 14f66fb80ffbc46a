"""Admission: a bounded number of studies at once, a bounded FIFO queue, refusals (ServiceBusy) beyond it.

Slots are held for real: a prediction of a small synthetic study blocks in its ``progress`` callback when it reaches
"reading series" (the first stage inside the slot) until the test lets it go.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.admission import AdmissionGate, ServiceBusy, default_queue_size, default_slots
from core.config import get_settings
from core.errors import SettingsError
from core.examples import example_study
from core.service import Outcome, Service, reset_service

ROOT = Path(__file__).resolve().parents[1]
GiB = 1024**3
WAIT_S = 120.0
"""Upper bound for a test to wait on another thread (never reached when the code works)."""


@pytest.fixture(scope="module")
def small_study(synthetic_case: Path) -> Path:
    """A small synthetic RSNA-layout study the bundled model accepts."""
    return synthetic_case


@pytest.fixture(scope="module")
def expected_probability(small_study: Path, tmp_path_factory: pytest.TempPathFactory) -> float:
    """The study's probability from a service with nobody else around."""
    settings = replace(get_settings(), db_path=tmp_path_factory.mktemp("reference") / "mgmt.duckdb")
    service = Service(settings=settings, import_cohort=False).start(background=False)
    return service.predict(small_study, with_cam=False, log=False).prediction.result.probability


def gated_service(tmp_path: Path, slots: int, queue_size: int, timeout_s: float = WAIT_S) -> Service:
    settings = replace(get_settings(), db_path=tmp_path / "mgmt.duckdb", max_concurrent=slots, queue_size=queue_size,
                       queue_timeout_s=timeout_s)
    return Service(settings=settings, import_cohort=False).start(background=False)


@dataclass
class Run:
    """One prediction on its own thread; with ``hold`` it stops at "reading series" (inside its slot) until
    ``release`` is set."""

    service: Service
    study: Path
    hold: bool = False
    stages: list[str] = field(default_factory=list)
    reading: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _progress(self, stage: str) -> None:
        self.stages.append(stage)
        if stage == "reading series":
            self.reading.set()
            if self.hold:
                assert self.release.wait(WAIT_S), "the test never released the slot"

    def _run(self) -> None:
        try:
            self.outcome = self.service.predict(self.study, with_cam=False, progress=self._progress)
        except BaseException as err:  # handed to the test thread
            self.error = err

    def finished(self) -> Run:
        self.release.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the prediction did not finish"
        return self


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


@pytest.fixture
def one_slot_one_queued(tmp_path: Path, small_study: Path) -> Iterator[tuple[Service, Run, Run]]:
    """A service with one slot and one queue place: the first run holds the slot, the second waits in line."""
    service = gated_service(tmp_path, slots=1, queue_size=1)
    first = Run(service, small_study, hold=True)
    assert first.reading.wait(WAIT_S)
    second = Run(service, small_study)
    wait_until(lambda: service.admission.status().waiting == 1, "the second run is in line")
    yield service, first, second
    first.finished(), second.finished()


def test_a_third_request_is_refused_at_once_while_the_first_two_complete(
        one_slot_one_queued: tuple[Service, Run, Run], small_study: Path, expected_probability: float) -> None:
    service, first, second = one_slot_one_queued
    stages: list[str] = []
    with pytest.raises(ServiceBusy, match="busy") as refusal:
        service.predict(small_study, with_cam=False, progress=stages.append)
    assert stages == []  # refused before staging anything
    assert refusal.value.retry_after_s >= 1 and f"try again in {refusal.value.retry_after_s} s" in str(refusal.value)
    for run in (first.finished(), second.finished()):
        assert run.error is None and run.outcome is not None
        assert run.outcome.prediction.result.probability == pytest.approx(expected_probability, abs=1e-6)
    assert service.admission.status().refused == 1


def test_a_queued_request_waits_after_staging_and_before_reading_the_series(
        one_slot_one_queued: tuple[Service, Run, Run]) -> None:
    _, first, second = one_slot_one_queued
    assert second.stages == ["staging"]  # its files are on disk; no volume has been read yet
    assert not second.reading.is_set()
    first.finished()
    assert second.reading.wait(WAIT_S)


def test_a_queued_request_proceeds_when_the_slot_frees(one_slot_one_queued: tuple[Service, Run, Run],
                                                       expected_probability: float) -> None:
    service, first, second = one_slot_one_queued
    assert service.admission.status().active == 1
    first.finished()
    second.finished()
    assert second.error is None and second.outcome is not None
    assert second.outcome.prediction.result.probability == pytest.approx(expected_probability, abs=1e-6)
    assert second.outcome.report["timings_s"]["queued"] > 0
    status = service.admission.status()
    assert (status.active, status.waiting, status.staging) == (0, 0, 0)


def test_waiting_longer_than_the_timeout_is_refused_as_busy(tmp_path: Path, small_study: Path) -> None:
    service = gated_service(tmp_path, slots=1, queue_size=1, timeout_s=0.2)
    first = Run(service, small_study, hold=True)
    assert first.reading.wait(WAIT_S)
    second = Run(service, small_study)
    second.thread.join(WAIT_S)
    assert isinstance(second.error, ServiceBusy) and "within 0.2 s" in second.error.user_message
    assert second.stages == ["staging"]
    first.finished()
    assert first.error is None and first.outcome is not None
    assert service.admission.status().refused == 1


def test_a_refusal_writes_no_row_in_the_prediction_log(tmp_path: Path, small_study: Path) -> None:
    service = gated_service(tmp_path, slots=1, queue_size=0)
    first = Run(service, small_study, hold=True)
    assert first.reading.wait(WAIT_S)
    with pytest.raises(ServiceBusy):
        service.predict(small_study, with_cam=False)
    first.finished()
    assert list(service.store.predictions()["status"]) == ["ok"]


def test_slots_are_granted_in_the_order_they_were_asked_for() -> None:
    gate = AdmissionGate(slots=1, queue_size=3, timeout_s=WAIT_S)
    order: list[int] = []
    holder = gate.enter()
    with gate.slot(holder):
        threads = []
        for number in range(3):
            def take(number: int = number) -> None:
                with gate.enter() as place, gate.slot(place):
                    order.append(number)
            threads.append(threading.Thread(target=take))
            threads[-1].start()
            wait_until(lambda number=number: gate.status().waiting == number + 1, f"caller {number} is in line")
    holder.leave()
    for thread in threads:
        thread.join(WAIT_S)
    assert order == [0, 1, 2]


def test_many_threads_never_exceed_the_slots_and_leave_the_gate_empty() -> None:
    gate = AdmissionGate(slots=2, queue_size=3, timeout_s=WAIT_S)
    lock, inside, most, done, refused = threading.Lock(), [0], [0], [0], [0]

    def caller(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with gate.enter() as place:
                time.sleep(rng.random() / 200)
                with gate.slot(place):
                    with lock:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    time.sleep(rng.random() / 100)
                    with lock:
                        inside[0] -= 1
            with lock:
                done[0] += 1
        except ServiceBusy:
            with lock:
                refused[0] += 1

    threads = [threading.Thread(target=caller, args=(seed,)) for seed in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert most[0] <= 2 and done[0] + refused[0] == 40 and done[0] >= 5
    status = gate.status()
    assert (status.active, status.waiting, status.staging, status.refused) == (0, 0, 0, refused[0])


def test_a_study_alone_gets_every_core_and_shares_them_when_others_hold_places() -> None:
    gate = AdmissionGate(slots=2, queue_size=2, timeout_s=1, cores=4)
    with gate.enter() as first, gate.slot(first) as alone:
        assert alone.threads == 4
    with gate.enter() as first, gate.enter(), gate.enter() as third:  # three studies in the gate
        with gate.slot(first) as shared, gate.slot(third) as also_shared:
            assert (shared.threads, also_shared.threads) == (1, 1)
    with gate.enter() as first, gate.enter(), gate.slot(first) as halved:
        assert halved.threads == 2


def test_a_place_given_back_twice_frees_one_place() -> None:
    gate = AdmissionGate(slots=1, queue_size=1, timeout_s=1)
    first, _second = gate.enter(), gate.enter()
    first.leave()
    first.leave()
    gate.enter()
    with pytest.raises(ServiceBusy):
        gate.enter()


@pytest.mark.parametrize(("cores", "memory", "slots", "queue"), [
    (2, 21 * GiB, 2, 8),  # cores decide, four queue places per slot
    (16, 4 * GiB, 3, 1),  # memory decides: (4 GiB - 1 GiB reserve) / 1 GiB per study; no room left for uploads
    (2, 5 * GiB, 2, 4),  # (5 GiB - 1 GiB - 2 x 1 GiB) / 0.5 GiB per queued upload
    (4, GiB // 2, 1, 1),  # never fewer than one of each
    (3, None, 3, 12),  # memory unknown
])
def test_default_slots_and_queue_follow_cores_and_memory(cores: int, memory: int | None, slots: int,
                                                         queue: int) -> None:
    assert default_slots(cores, memory) == slots
    assert default_queue_size(slots, memory) == queue


def test_settings_read_the_admission_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MGMT_MAX_CONCURRENT", "3")
    monkeypatch.delenv("MGMT_QUEUE_SIZE", raising=False)
    monkeypatch.setenv("MGMT_QUEUE_TIMEOUT_S", "2.5")
    settings = get_settings()
    assert (settings.max_concurrent, settings.queue_size, settings.queue_timeout_s) == (3, 12, 2.5)


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MGMT_MAX_CONCURRENT", "0", "at least 1"),
    ("MGMT_QUEUE_SIZE", "-1", "at least 0"),
    ("MGMT_QUEUE_TIMEOUT_S", "soon", "not a number of seconds"),
])
def test_unusable_admission_settings_are_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                               message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as error:
        get_settings()
    assert name in error.value.user_message


@pytest.mark.slow
def test_the_predict_page_says_busy_and_keeps_the_study_for_another_try(tmp_path: Path) -> None:
    example_study("case-10")  # written before the gate fills, as the first visitor would have
    service = gated_service(tmp_path, slots=1, queue_size=0)
    reset_service(service)
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        app.switch_page("pages/predict.py").run()
        app.selectbox[0].select("case-10").run()
        with service.admission.enter():  # someone else holds the only place
            app.button(key="predict").click().run()
        assert not app.exception and not app.error
        assert any("busy" in warning.value and "try again" in warning.value for warning in app.warning)
        assert "outcome" not in app.session_state
        app.button(key="predict").click().run()  # the place is free again: the same page predicts
        assert not app.exception and not app.error
        assert app.session_state["outcome"].report["probability"] >= 0
    finally:
        reset_service(None)
