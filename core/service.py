"""The process's one model and one store, shared by the pages, the REST API and the command line.

A prediction goes: stage the upload -> read the series -> preprocess -> model (+ Grad-CAM) -> log. Every
attempt is logged (ok, rejected input, or failure) with its timings and provenance, never with a patient
identifier; the staging folder is removed before the call returns, whatever happens.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.admission import AdmissionGate, Place, use_cpu_share
from core.config import Settings, get_settings
from core.errors import ModelUnavailable, ServiceUnavailable, disposition
from core.ingest import UploadedFile, staged
from core.ingest.gc_pause import collector_paused
from core.ingest.loader import read_study_and_identity, read_study_folder, source_name
from core.report import Documents, ReportRequest, load_report_writers, make_documents
from core.store import PredictionRecord, Store

if TYPE_CHECKING:  # torch and MONAI load with the model, in the background, so the server is up at once
    from core.inference import Prediction, Predictor
    from core.ingest import Study

from core.inference.report import PredictionResult, Timings

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]
Source = Path | str | Sequence[UploadedFile]

STAGES = ("staging", "reading series", "preprocessing", "model", "Grad-CAM")
"""The stages a prediction reports through ``progress``, in order."""
MODEL_WAIT_S = 120.0
"""How long a request waits for the model that is still loading in the background."""


@dataclass(frozen=True)
class Outcome:
    """A finished prediction (timings of every stage, whether and where it was logged) and its JSON report."""

    prediction: Prediction
    documents: Documents | None = None  # the PDF and DICOM SR asked for, in memory only

    @property
    def report(self) -> dict[str, Any]:
        """The object ``predict --json`` prints and the REST API returns."""
        return self.prediction.to_json()


def redact(message: str) -> str:
    """An error message fit for the log: quoted names (files, folders, descriptions) replaced by '…'."""
    return re.sub(r"'[^']*'", "'…'", message)[:500]


class Service:
    """One loaded model and one prediction store; model loading can run in the background."""

    def __init__(self, settings: Settings | None = None, model: str | None = None, revision: str | None = None,
                 store: Store | None = None, import_cohort: bool = True) -> None:
        self.settings = settings or get_settings()
        self._import_cohort = import_cohort
        self._model_args = (model, revision)
        self._store = store
        self._predictor: Predictor | None = None
        self._model_error: ServiceUnavailable | None = None
        self._loaded = threading.Event()
        self._start_lock = threading.Lock()
        self._started = False
        self.load_seconds: float | None = None
        self.admission = AdmissionGate(self.settings.max_concurrent, self.settings.queue_size,
                                       self.settings.queue_timeout_s, max_receiving=self.settings.max_receiving,
                                       receiving_bytes=self.settings.receiving_bytes)

    @property
    def store(self) -> Store:
        """The prediction log and cohort tables (opened on first use)."""
        if self._store is None:
            with self._start_lock:
                if self._store is None:
                    self._store = Store(self.settings.store_location)
        return self._store

    def start(self, background: bool = True) -> Service:
        """Begin loading the model (once); with ``background`` the caller does not wait for it, and the report
        writers load after the model, so a server's first report does not wait for them (a command that waits loads
        them only if it makes a report)."""
        with self._start_lock:
            if self._started:
                return self
            self._started = True
        if background:
            # torch and MONAI are imported here, not in the thread: the page imports MONAI too, and two threads
            # importing its packages at once can meet one half-initialised ("cannot import name 'Convolution' from
            # partially initialized module monai.networks.blocks"), which failed a model load in a test run
            import core.inference.predictor  # noqa: F401

            threading.Thread(target=self._load, kwargs={"warm_reports": True}, name="model-loader", daemon=True).start()
        else:
            self._load(warm_reports=False)
        return self

    def _load(self, warm_reports: bool) -> None:
        started = time.perf_counter()
        try:
            self._predictor = self._read_model()
            self.load_seconds = time.perf_counter() - started
            if self._import_cohort:
                self._import_training_cohort(self._predictor)
            if warm_reports:
                load_report_writers()  # reports: fpdf2 and highdicom (~2 s on first use) load with the model
        except ServiceUnavailable as err:
            self._model_error = err
        finally:
            self._loaded.set()

    def _read_model(self) -> Predictor:
        """The predictor; ModelUnavailable for any failure to load it (a damaged weights file, say), so the server
        stays up and says why on every request instead of dying or reporting a half-loaded model."""
        try:
            from core.inference import Predictor

            return Predictor.load(*self._model_args)
        except ServiceUnavailable:
            raise
        except Exception as err:
            logger.exception("The model could not be loaded")
            named = self._model_args[0] or self.settings.model_repo or "weights/"
            raise ModelUnavailable(
                f"The model '{named}' could not be loaded ({type(err).__name__}: {str(err)[:300]}); expected a "
                "readable config.json and model.safetensors written by save_pretrained (check MGMT_MODEL_REPO). "
                "The log has the details.") from err

    def _import_training_cohort(self, predictor: Predictor) -> None:
        """The model's out-of-fold predictions into the store, for the Cohort page; a store problem is logged,
        it does not make the model unusable."""
        try:
            self.store.import_training_cohort(predictor.source, predictor.config.metrics_json)
        except ServiceUnavailable as err:
            logger.warning("The training cohort was not loaded into the store: %s", err.user_message)

    def predictor(self, timeout: float | None = MODEL_WAIT_S) -> Predictor:
        """The loaded predictor, waiting for a background load; ModelUnavailable when it could not load."""
        self.start()
        if not self._loaded.wait(timeout):
            raise ModelUnavailable(f"The model is still loading after {timeout:.0f} s; try again in a minute.")
        if self._model_error is not None:
            raise self._model_error
        assert self._predictor is not None
        return self._predictor

    def model_status(self) -> dict[str, Any]:
        """``state`` (loading, ready, failed), and the repo and revision once loaded, or the error."""
        if not self._loaded.is_set():
            return {"state": "loading"}
        if self._model_error is not None:
            return {"state": "failed", "error": self._model_error.user_message}
        assert self._predictor is not None
        source = self._predictor.source
        return {"state": "ready", "repo": source.repo, "revision": source.revision,
                "load_seconds": round(self.load_seconds or 0.0, 3)}

    def predict(self, source: Source, *, user: str = "anonymous", channel: str = "app", with_cam: bool = True,
                progress: Progress | None = None, log: bool = True, place: Place | None = None,
                reports: ReportRequest | None = None, with_display: bool = False) -> Outcome:
        """Read, preprocess and score one study, and log the attempt; InputError for anything the user can fix.

        Admission: a place in ``self.admission`` (``place``, when the caller took one already, as the REST API does
        once the upload has arrived), then, after staging (files on disk), a slot for reading the series (which
        allocates the volumes) and scoring; ServiceBusy, not logged, when there is no place or no slot in time.
        Every other failure is logged with the status its kind has in ``core.errors.DISPOSITIONS``.
        ``reports``: the documents to make (``Outcome.documents``) from the prediction and the source's identity,
        which is held in memory for this call only and never logged or written.
        """
        progress = progress or (lambda stage: None)
        started = time.perf_counter()
        timings: dict[str, float] = {}
        predictor: Predictor | None = None
        try:
            with ExitStack() as admitted:
                held = place or admitted.enter_context(self.admission.enter())
                predictor = self.predictor()
                progress("staging")
                with staged(source, self.settings) as folder:
                    timings["staging"] = time.perf_counter() - started
                    slot = admitted.enter_context(self.admission.slot(held))
                    timings["queued"] = slot.waited_s
                    use_cpu_share(slot.threads)
                    read_started = time.perf_counter()
                    progress("reading series")
                    with self.admission.reading, collector_paused():
                        study, identity = read_study_and_identity(folder, source_name(source), self.settings)
                timings["read"] = time.perf_counter() - read_started
                prediction = predictor.predict(study, with_cam=with_cam, progress=progress, with_display=with_display)
                del study  # the volumes go before the slot does
        except Exception as err:
            status = disposition(err).log_status
            if log and status is not None:
                message = getattr(err, "user_message", None) or f"{type(err).__name__}: {err}"
                self._log_failure(predictor, user, channel, status, message, timings, started)
            raise
        prediction = prediction.with_result(timings=Timings.of(timings) + prediction.result.timings
                                            + Timings.of({"total": time.perf_counter() - started}))
        log_id = self._log_success(prediction.result, user, channel) if log else None
        prediction = prediction.with_result(logged=log_id is not None, log_id=log_id)
        # the reports are made while the identity is in memory; it goes no further than the documents
        documents = None
        if reports is not None:
            report_started = time.perf_counter()
            documents = make_documents(prediction, identity, reports)
            prediction = prediction.with_result(timings=prediction.result.timings.without("total")
                                                + Timings.of({"reports": time.perf_counter() - report_started,
                                                              "total": time.perf_counter() - started}))
        del identity
        return Outcome(prediction, documents)

    def log_refusal(self, status: str, message: str, channel: str, seconds: float, user: str = "anonymous") -> None:
        """Log an attempt refused before it reached ``predict`` (an upload unreadable, too large, timed out, or
        abandoned): its status and redacted message, and how long it took (``timings_s.receive``)."""
        self._log_failure(self._predictor if self._loaded.is_set() else None, user, channel, status, message,
                          {"receive": seconds}, time.perf_counter() - seconds)

    def inspect(self, source: Source) -> Study:
        """Read one study as a prediction reads it, under the same admission (a place, then a slot while the series
        are read), without the model and without logging; InputError for anything the user can fix."""
        with self.admission.enter() as place, staged(source, self.settings) as folder, \
                self.admission.slot(place) as slot:
            use_cpu_share(slot.threads)
            with self.admission.reading, collector_paused():
                return read_study_folder(folder, source_name(source), self.settings)

    def _log_success(self, result: PredictionResult, user: str, channel: str) -> int | None:
        low, high = result.uncertainty.interval90
        record = PredictionRecord(
            channel=channel, user=user, status="abstained" if result.abstained else "ok",
            study_hash=result.study_hash,
            probability=result.probability, label=result.label,
            uncertainty_std=result.uncertainty.std, interval_low=low, interval_high=high,
            model_repo=result.provenance.repo, model_revision=result.provenance.revision,
            preprocessing_version=result.provenance.preprocessing_version,
            timings_s=result.timings.to_json(), error=None,
            reasons=tuple(redact(reason) for reason in result.reasons) if result.abstained else ())
        return self._write_log(record)

    def _log_failure(self, predictor: Predictor | None, user: str, channel: str, status: str, message: str,
                     timings: dict[str, float], started: float) -> None:
        source = predictor.source if predictor else None
        record = PredictionRecord(
            channel=channel, user=user, status=status, study_hash=None, probability=None, label=None,
            uncertainty_std=None, interval_low=None, interval_high=None,
            model_repo=source.repo if source else "", model_revision=source.revision if source else "",
            preprocessing_version=predictor.config.preprocessing.version if predictor else None,
            timings_s=(Timings.of(timings) + Timings.of({"total": time.perf_counter() - started})).to_json(),
            error=redact(message))
        self._write_log(record)

    def _write_log(self, record: PredictionRecord) -> int | None:
        """Log one attempt; None when the store cannot take it (busy, unusable file, disk full: a warning says
        which), so the answer to the user is neither lost nor replaced by a database problem."""
        try:
            return self.store.log_prediction(record)
        except ServiceUnavailable as err:  # the store could not be opened (e.g. a file from a newer app)
            logger.warning("Prediction not logged: %s", err.user_message)
            return None


_service: Service | None = None
_service_lock = threading.Lock()


def get_service() -> Service:
    """The process-wide service (created on first use; model loading starts in the background)."""
    global _service
    with _service_lock:
        if _service is None:
            _service = Service().start()
        return _service


def reset_service(service: Service | None = None) -> None:
    """Replace the process-wide service (tests; settings changed)."""
    global _service
    with _service_lock:
        _service = service
