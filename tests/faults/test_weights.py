"""Weights that cannot be read: the server stays up, and health and predict answer 503 saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from streamlit.testing.v1 import AppTest

from core.__main__ import main
from core.config import get_settings
from core.errors import ModelUnavailable
from core.model.hub import BUNDLED
from core.service import Service, reset_service
from tests.app_server import ROOT, running_app


def _broken_weights(root: Path, how: str) -> Path:
    """A copy of weights/ whose model.safetensors is garbage, cut short, or a folder."""
    folder = root / f"weights-{how}"
    shutil.copytree(BUNDLED, folder)
    weights = folder / "model.safetensors"
    if how == "garbage":
        weights.write_bytes(b"\xff" * 4096)
    elif how == "truncated":
        weights.write_bytes(weights.read_bytes()[:100_000])
    else:
        weights.unlink()
        weights.mkdir()
    return folder


@pytest.mark.parametrize(("how", "said"), [("garbage", "SafetensorError"), ("truncated", "SafetensorError"),
                                           ("folder", "lacks model.safetensors")])
def test_the_service_reports_unreadable_weights_as_model_unavailable(tmp_path: Path, how: str, said: str) -> None:
    folder = _broken_weights(tmp_path, how)
    settings = replace(get_settings(), db_path=tmp_path / "mgmt.duckdb")
    service = Service(settings=settings, model=str(folder), import_cohort=False).start(background=False)
    status = service.model_status()
    assert status["state"] == "failed" and said in status["error"] and str(folder) in status["error"]
    with pytest.raises(ModelUnavailable, match=said):
        service.predict(tmp_path)


@pytest.mark.slow
def test_the_server_stays_up_and_answers_503_with_the_reason(tmp_path: Path, fault_zip: bytes) -> None:
    folder = _broken_weights(tmp_path, "garbage")
    with running_app(tmp_path / "app", {"MGMT_MODEL_REPO": str(folder)}) as server:
        health = server.wait_for_model()
        answer = requests.get(f"{server.url}/api/health", timeout=30)
        predictions = [requests.post(f"{server.url}/api/predict", files={"study": ("study.zip", fault_zip)},
                                     timeout=120) for _ in range(2)]
        again = requests.get(f"{server.url}/api/health", timeout=30)
        assert os.waitpid(server.pid, os.WNOHANG) == (0, 0)  # still running: it did not exit or restart
        log = server.log.read_text(errors="replace")
    assert health["status"] == "unavailable" and health["model"]["state"] == "failed"
    assert answer.status_code == 503 and "SafetensorError" in health["model"]["error"]
    assert f"The model '{folder}' could not be loaded" in health["model"]["error"]
    for prediction in predictions:
        assert prediction.status_code == 503 and prediction.headers["Retry-After"]
        assert prediction.json()["error"] == health["model"]["error"]
    assert again.status_code == 503 and again.json()["model"] == health["model"]
    assert log.count("The model could not be loaded") == 1  # tried once, with its traceback in the log: no loop


def test_a_prediction_with_unreadable_weights_is_logged_as_failed_not_rejected(tmp_path: Path,
                                                                                synthetic_case: Path) -> None:
    settings = replace(get_settings(), db_path=tmp_path / "mgmt.duckdb")
    service = Service(settings=settings, model=str(_broken_weights(tmp_path, "garbage")), import_cohort=False)
    with pytest.raises(ModelUnavailable):
        service.start(background=False).predict(synthetic_case)
    rows = service.store.predictions()
    assert list(rows["status"]) == ["failed"] and "could not be loaded" in rows.iloc[0]["error"]


def test_the_cli_exits_3_for_unreadable_weights(tmp_path: Path, synthetic_case: Path, capsys,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MGMT_DB", str(tmp_path / "mgmt.duckdb"))
    folder = _broken_weights(tmp_path, "garbage")
    assert main(["predict", str(synthetic_case), "--model", str(folder), "--no-log"]) == 3
    assert capsys.readouterr().err.startswith(f"error: The model '{folder}' could not be loaded")


def _predict_with(folder: Path, study: Path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *flags, "predict", str(study), "--model", str(folder),
                           "--no-log"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_cli_answers_unreadable_weights_in_one_line_with_exit_3(tmp_path: Path, synthetic_case: Path) -> None:
    folder = _broken_weights(tmp_path, "garbage")
    run = _predict_with(folder, synthetic_case)
    assert run.returncode == 3
    assert run.stderr.splitlines() == [run.stderr.strip()] and "Traceback" not in run.stderr
    assert run.stderr.startswith(f"error: The model '{folder}' could not be loaded (SafetensorError: ")
    assert run.stderr.rstrip().endswith("(run again as 'python -m core --debug predict ...' to see the traceback)")


def test_the_cli_with_debug_prints_the_traceback_before_the_same_answer(tmp_path: Path,
                                                                         synthetic_case: Path) -> None:
    folder = _broken_weights(tmp_path, "garbage")
    run = _predict_with(folder, synthetic_case, "--debug")
    lines = run.stderr.splitlines()
    assert run.returncode == 3 and "Traceback (most recent call last):" in lines
    assert any("ERROR core.service: The model could not be loaded" in line for line in lines)
    assert lines[-1].startswith(f"error: The model '{folder}' could not be loaded (SafetensorError: ")
    assert "--debug" not in lines[-1]


def test_the_predict_page_does_not_blame_the_study_for_unreadable_weights(tmp_path: Path) -> None:
    settings = replace(get_settings(), db_path=tmp_path / "mgmt.duckdb")
    reset_service(Service(settings=settings, model=str(_broken_weights(tmp_path, "garbage")), import_cohort=False))
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        app.switch_page("pages/predict.py").run()
        app.button(key="predict").click().run()
    finally:
        reset_service()
    assert not app.exception
    statuses = [element.label for element in app.get("expandable")] if app.get("expandable") else []
    shown = " ".join([e.value for e in app.warning] + [e.value for e in app.error] + statuses)
    assert "could not be loaded" in shown and "study could not be used" not in shown
