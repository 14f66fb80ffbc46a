"""The endpoints: health, predict (an upload -> the report of ``predict --json``), and the prediction log.

Work that blocks (a prediction, a DuckDB query) runs in worker threads so the server keeps answering. An upload is
received in one of the gate's receiving places (core/admission.py; timed by core/api/upload.py) and takes its
queue place only once it has fully arrived: when every slot and queue place is taken it is refused then (503 with
Retry-After). Every attempt is logged: the service logs what it runs, this module the refusals that come before
(the upload unreadable, too large, timed out, the client gone); busy refusals are counted in health instead.
Predictions get their own threads, one per place: Streamlit sizes AnyIO's shared pool (28) for static files.
"""

from __future__ import annotations

import json
import math
import time
from functools import partial
from typing import Any

import anyio
import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.api.access import protection
from core.api.upload import received_files
from core.config import Settings, get_settings
from core.errors import InputError, disposition
from core.notice import RESEARCH_NOTICE, STORAGE
from core.report import KINDS, ReportRequest
from core.service import get_service

LOG_LIMIT_DEFAULT = 100
LOG_LIMIT_MAX = 1000
HEALTH_STATUS = {"ready": "ok", "loading": "loading", "failed": "unavailable"}
"""The service's status for each model state; only a failed model makes the health check fail (503)."""

_slots: anyio.CapacityLimiter | None = None


def prediction_slots(places: int) -> anyio.CapacityLimiter:
    """The limiter of prediction threads, one per place of the admission gate (made on first use, inside the
    server's event loop), so that no request waits for a thread instead of in the gate."""
    global _slots
    if _slots is None:
        _slots = anyio.CapacityLimiter(places)
    _slots.total_tokens = max(places, 1)  # a replaced service (tests) may have another gate
    return _slots


async def health(request: Request) -> JSONResponse:
    """``GET /api/health``: the service answers; the model's state, repo and revision; the research notice; what
    is stored and for how long; the admission gate (slots, queue, studies active and waiting, refusals)."""
    service = get_service()
    model = service.model_status()
    status = HEALTH_STATUS.get(model["state"], "unavailable")
    access = protection(get_settings(), request.scope.get("mgmt.sign_in", False))
    return JSONResponse({"status": status, "model": model, "notice": RESEARCH_NOTICE, "storage": STORAGE,
                         "admission": service.admission.status().to_json(), "access": access,
                         "limits": upload_limits(get_settings())},
                        status_code=503 if status == "unavailable" else 200)


def upload_limits(settings: Settings) -> dict[str, Any]:
    """What an upload may take and cost (health's ``limits``; docs/api-limits.md)."""
    return {"max_upload_bytes": settings.max_upload_bytes, "max_unzipped_bytes": settings.max_unzipped_bytes,
            "max_files": settings.max_zip_entries, "max_receiving": settings.max_receiving,
            "receiving_bytes": settings.receiving_bytes,
            "upload_idle_s": settings.upload_idle_s, "upload_min_rate_bytes_s": settings.upload_min_rate,
            "upload_max_s": settings.upload_max_s, "max_voxels": settings.max_voxels,
            "max_study_voxels": settings.max_study_voxels, "max_dimension": settings.max_dimension}


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float as None: JSON has no NaN, and a measurement that is undefined for a
    study (a correlation of a constant series) must not turn its answer into a 500."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def refusal_status(err: BaseException) -> str | None:
    """The log status of an upload refused before it reached the service; None for a busy refusal (counted)."""
    return "disconnected" if isinstance(err, ClientDisconnect) else disposition(err).log_status


async def predict(request: Request) -> Response:
    """``POST /api/predict``: a multipart upload of one study -> the JSON of ``python -m core predict --json``;
    with ``?report=pdf``, ``sr`` or ``seg`` the PDF report, the DICOM SR or the DICOM SEG of the tumour instead (a
    NIfTI study's ``seg`` is its label map as NIfTI; the DICOM documents carry the uploaded study's patient module;
    they go back to the uploader and are kept nowhere)."""
    service, settings, started = get_service(), get_settings(), time.perf_counter()
    arrived = False
    try:
        reports = report_request(request.query_params.get("report"), request.query_params.get("identity"))
        async with received_files(request, settings, service.admission) as files:
            arrived = True  # from here on the service logs the attempt
            with service.admission.enter() as place:  # ServiceBusy (503) only once the whole upload is here
                outcome = await anyio.to_thread.run_sync(
                    partial(service.predict, files, channel="api", place=place, reports=reports),
                    limiter=prediction_slots(service.admission.capacity))
    except Exception as err:
        status = refusal_status(err)
        if not arrived and status is not None:
            message = ("The client went away before its upload had arrived." if isinstance(err, ClientDisconnect)
                       else getattr(err, "user_message", None) or f"{type(err).__name__}: {err}")
            await run_in_threadpool(service.log_refusal, status, message, "api", time.perf_counter() - started)
        raise
    if reports is None:
        return JSONResponse(finite(outcome.report))
    kind = reports.kinds[0]
    if kind in outcome.documents.refused:
        raise InputError(outcome.documents.refused[kind])
    document = outcome.documents.made[kind]
    return Response(document.data, media_type=document.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{document.file_name}"'})


def report_request(raw: str | None, identity: str | None = None) -> ReportRequest | None:
    """The ``report`` query parameter: absent for the JSON answer, else one of KINDS; ``identity=true`` puts the
    patient from the upload's headers into the PDF (by default it names no patient)."""
    if raw is None:
        if identity is not None:
            raise InputError("identity= applies to a report only; expected report=pdf with it.")
        return None
    if raw.strip().lower() not in KINDS:
        raise InputError(f"report={raw!r} is not usable; expected one of {', '.join(KINDS)} (or no report "
                         "parameter for the JSON answer).")
    flags = {None: False, "false": False, "0": False, "true": True, "1": True}
    if (identity.strip().lower() if identity is not None else None) not in flags:
        raise InputError(f"identity={identity!r} is not usable; expected true or false.")
    return ReportRequest(kinds=(raw.strip().lower(),),
                         include_identity=flags[identity.strip().lower() if identity is not None else None])


def log_limit(raw: str | None) -> int:
    """The ``limit`` query parameter: a whole number from 1 to LOG_LIMIT_MAX (default LOG_LIMIT_DEFAULT)."""
    if raw is None:
        return LOG_LIMIT_DEFAULT
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= LOG_LIMIT_MAX:
        raise InputError(f"limit={raw!r} is not usable; expected a whole number from 1 to {LOG_LIMIT_MAX}.")
    return int(text)


def prediction_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The log's rows as JSON objects: ISO times, null for missing values, ``timings_s`` as an object."""
    rows = json.loads(frame.to_json(orient="records", date_format="iso"))
    for row in rows:
        if isinstance(row.get("timings_s"), str):
            try:
                row["timings_s"] = json.loads(row["timings_s"])
            except ValueError:
                pass  # kept as the text the store holds
    return rows


async def predictions(request: Request) -> JSONResponse:
    """``GET /api/predictions?limit=N``: the prediction log, newest first."""
    limit = log_limit(request.query_params.get("limit"))
    frame = await run_in_threadpool(get_service().store.predictions, limit=limit)
    return JSONResponse(prediction_rows(frame))
