"""The REST API of a running ``streamlit run app.py``: health, predict (zip or files) = the CLI, the log, refusals."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.api.uploads import garbage_zip, patient_identity, study_files, study_zip
from tests.app_server import ROOT, AppServer

pytestmark = pytest.mark.slow
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def cli_report(synthetic_case: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What ``python -m core predict --json --no-log`` says about the study."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MGMT_")}
    env.update(HF_HUB_OFFLINE="1", MGMT_DATA_DIR=str(tmp_path_factory.mktemp("cli-data")), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "core", "predict", str(synthetic_case), "--json", "--no-log"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def ready(app_server: AppServer) -> tuple[dict, list[str]]:
    """The health answer once the model is loaded, and the server's TMPDIR entries before any upload."""
    return app_server.wait_for_model(), app_server.tmp_entries()


@pytest.fixture(scope="module")
def zip_answer(app_server: AppServer, ready: tuple[dict, list[str]], synthetic_case: Path) -> requests.Response:
    files = {"study": ("study.zip", study_zip(synthetic_case), "application/zip")}
    return requests.post(f"{app_server.url}/api/predict", files=files, timeout=TIMEOUT_S)


def _spooled_files_open_in(server: AppServer) -> list[str]:
    """Files of the server process open under its TMPDIR (a spooled upload left open shows as '(deleted)')."""
    targets = []
    for link in Path(f"/proc/{server.pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a file the server closed while we were listing
            targets.append(os.readlink(link))
    return [target for target in targets if target.startswith(str(server.tmpdir))]


def test_health_names_the_bundled_model_once_ready(ready: tuple[dict, list[str]], cli_report: dict) -> None:
    health, _ = ready
    assert health["status"] == "ok" and health["model"]["state"] == "ready"
    assert (health["model"]["repo"], health["model"]["revision"]) == (cli_report["model"]["repo"],
                                                                      cli_report["model"]["revision"])
    assert health["notice"].startswith("Research use only")


def test_predict_a_zip_gives_the_cli_probability_and_keys(zip_answer: requests.Response, cli_report: dict) -> None:
    assert zip_answer.status_code == 200, zip_answer.text
    report = zip_answer.json()
    assert report["probability"] == pytest.approx(cli_report["probability"], abs=1e-6)
    assert set(report) == set(cli_report)
    assert list(report["sequences"]) == ["FLAIR", "T1w", "T1wCE", "T2w"]


def test_predict_files_with_relative_paths_gives_the_same_probability(
        app_server: AppServer, ready: tuple[dict, list[str]], synthetic_case: Path, cli_report: dict) -> None:
    answer = requests.post(f"{app_server.url}/api/predict", files=study_files(synthetic_case), timeout=TIMEOUT_S)
    assert answer.status_code == 200, answer.text
    assert answer.json()["probability"] == pytest.approx(cli_report["probability"], abs=1e-6)
    assert answer.json()["sequences"]["FLAIR"]["identified_by"] == cli_report["sequences"]["FLAIR"]["identified_by"]


def test_prediction_log_lists_the_api_prediction_without_patient_identity(
        app_server: AppServer, zip_answer: requests.Response, synthetic_case: Path) -> None:
    answer = requests.get(f"{app_server.url}/api/predictions", params={"limit": 10}, timeout=30)
    assert answer.status_code == 200
    rows = answer.json()
    mine = [row for row in rows if row["study_hash"] == zip_answer.json()["study_hash"]]
    assert mine and all(row["channel"] == "api" and row["status"] == "ok" for row in mine)
    assert mine[0]["probability"] == pytest.approx(zip_answer.json()["probability"], abs=1e-6)
    assert isinstance(mine[0]["timings_s"], dict) and mine[0]["timings_s"]["total"] > 0
    assert [row["time"] for row in rows] == sorted((row["time"] for row in rows), reverse=True)
    for secret in patient_identity(synthetic_case):
        assert secret not in answer.text


@pytest.mark.parametrize("limit", ["0", "1001", "ten", "-3", "2.5"])
def test_prediction_log_refuses_a_bad_limit(app_server: AppServer, limit: str) -> None:
    answer = requests.get(f"{app_server.url}/api/predictions", params={"limit": limit}, timeout=30)
    assert answer.status_code == 400
    assert "from 1 to 1000" in answer.json()["error"]


def test_predict_refuses_a_body_that_is_not_multipart(app_server: AppServer) -> None:
    answer = requests.post(f"{app_server.url}/api/predict", json={"study": "case.zip"}, timeout=30)
    assert answer.status_code == 400
    assert "application/json" in answer.json()["error"] and "multipart/form-data" in answer.json()["error"]


def test_predict_refuses_a_form_without_files(app_server: AppServer) -> None:
    answer = requests.post(f"{app_server.url}/api/predict", files={"note": (None, "hello")}, timeout=30)
    assert answer.status_code == 400
    assert "no files" in answer.json()["error"] and "'note'" in answer.json()["error"]


def test_predict_refuses_a_zip_of_garbage_naming_what_it_found(
        app_server: AppServer, ready: tuple[dict, list[str]]) -> None:
    files = {"study": ("garbage.zip", garbage_zip(4096), "application/zip")}
    answer = requests.post(f"{app_server.url}/api/predict", files=files, timeout=TIMEOUT_S)
    assert answer.status_code == 400
    assert "notes.txt" in answer.json()["error"] and "not DICOM or NIfTI" in answer.json()["error"]


def test_uploads_leave_nothing_behind(app_server: AppServer, ready: tuple[dict, list[str]],
                                      synthetic_case: Path) -> None:
    _, before = ready
    large_garbage = {"study": ("garbage.zip", garbage_zip(3 * 1024 * 1024), "application/zip")}  # spooled to disk
    assert requests.post(f"{app_server.url}/api/predict", files=large_garbage, timeout=TIMEOUT_S).status_code == 400
    assert app_server.tmp_entries() == before
    assert _spooled_files_open_in(app_server) == []
    study = {"study": ("study.zip", study_zip(synthetic_case, padding=2 * 1024 * 1024), "application/zip")}
    assert requests.post(f"{app_server.url}/api/predict", files=study, timeout=TIMEOUT_S).status_code == 200
    assert app_server.tmp_entries() == before
    assert _spooled_files_open_in(app_server) == []


def test_unknown_api_paths_answer_json_404(app_server: AppServer) -> None:
    answer = requests.get(f"{app_server.url}/api/nothing-here", timeout=30)
    assert answer.status_code == 404 and answer.json() == {"error": "Not Found"}
