"""No patient identity leaves ingest: not into the DuckDB file, the app's log, REST answers, CLI output or temp files.

Studies whose DICOM headers carry a known name, id, birth date, accession number, institution and UIDs are predicted
through the REST API, the command line and the Service; then every byte those left behind is searched for them.
The study hash is salted, so it cannot be recomputed from a known PatientID; the storage statement is public.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pydicom
import pytest
import requests
from starlette.applications import Starlette
from streamlit.testing.v1 import AppTest

from core import SEQUENCES
from core.api import api_routes
from core.config import Settings, get_settings, study_salt
from core.errors import InputError
from core.ingest import load_study
from core.ingest.loader import study_hash
from core.notice import STORAGE, STORAGE_NOTICE
from core.service import Service, reset_service
from core.synth import cases as synth_cases
from core.synth.cases import write_case
from core.synth.dicom_writer import PatientHeader
from tests.api.asgi import call
from tests.api.uploads import study_files, study_zip
from tests.app_server import ROOT, running_app
from tests.conftest import PATIENT, write_study

PRIVATE = PatientHeader(patient_name="QUINTERO-VALDEZ^ZELDA^MARISOL", patient_id="PRIV-ID-739104",
                        birth_date="19470922", sex="F", accession_number="ACCN-5510273",
                        study_uid="1.2.826.0.1.3680043.8.498.7391047391", institution="Rosewood Privacy Clinic")
NAME_PARTS = [part for part in PRIVATE.patient_name.replace("^", " ").replace("-", " ").split() if len(part) > 2]
BIRTH_DATE_ISO = "1947-09-22"
"""The birth date as software other than DICOM would write it."""
SECRETS = sorted({PRIVATE.patient_name, *NAME_PARTS, PRIVATE.patient_id, PRIVATE.birth_date, BIRTH_DATE_ISO,
                  PRIVATE.accession_number, PRIVATE.study_uid, PRIVATE.institution})


def found_in(data: bytes | str, secrets: list[str]) -> list[str]:
    """The secrets that occur in ``data``, ignoring case."""
    text = (data.encode(errors="replace") if isinstance(data, str) else data).lower()
    return [secret for secret in secrets if secret.lower().encode() in text]


def files_leaking(root: Path, secrets: list[str]) -> dict[str, list[str]]:
    """Every file under ``root`` (names included) that holds a secret, with the secrets it holds."""
    leaks = {}
    for path in [root, *root.rglob("*")]:
        held = found_in(str(path.relative_to(root.parent)), secrets)
        if path.is_file():
            held += found_in(path.read_bytes(), secrets)
        if held:
            leaks[str(path)] = held
    return leaks


def stored_text(db: Path) -> str:
    """Every value of every table of a DuckDB file, as text (whatever the storage compresses, this shows)."""
    with duckdb.connect(str(db), read_only=True) as connection:
        tables = [row[0] for row in connection.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return "\n".join(str(connection.execute(f'SELECT * FROM "{table}"').fetchall()) for table in tables)


@pytest.fixture(scope="module")
def private_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A brain-like study the model accepts, its headers carrying PRIVATE, and every secret (its UIDs added)."""
    out = tmp_path_factory.mktemp("private-cohort")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synth_cases, "fake_patient", lambda rng: PRIVATE)
        folder = out / "train" / write_case(out, 4, seed=11).case_id
    uids = []
    for sequence in SEQUENCES:
        header = pydicom.dcmread(next((folder / sequence).glob("*.dcm")), stop_before_pixels=True)
        uids += [str(header.SeriesInstanceUID), str(header.SOPInstanceUID), str(header.FrameOfReferenceUID)]
    secrets = sorted({*SECRETS, *uids})
    headers = b"".join(p.read_bytes() for p in folder.rglob("*.dcm"))
    assert set(found_in(headers, secrets)) == set(secrets) - {BIRTH_DATE_ISO}  # the search would find them
    return folder, secrets


@pytest.fixture(scope="module")
def partial_study(private_study: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same study cut to one slice of its FLAIR series (a study missing sequences is scored, so this is what
    gets rejected): the error names the series and the file, and must name no patient."""
    folder = tmp_path_factory.mktemp("partial") / "partial-case"
    (folder / "FLAIR").mkdir(parents=True)
    first = sorted((private_study[0] / "FLAIR").glob("*.dcm"))[0]
    shutil.copy(first, folder / "FLAIR" / first.name)
    return folder


def _cli(args: list[str], data_dir: Path, tmpdir: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MGMT_")}
    env.update(HF_HUB_OFFLINE="1", MGMT_DATA_DIR=str(data_dir), TMPDIR=str(tmpdir), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_rest_cli_and_service_leave_no_patient_identity_anywhere(private_study: tuple[Path, list[str]],
                                                                 partial_study: Path, tmp_path: Path) -> None:
    study, secrets = private_study
    said: list[str] = []
    with running_app(tmp_path / "app") as server:
        server.wait_for_model()
        zipped = requests.post(f"{server.url}/api/predict", files={"study": ("study.zip", study_zip(study))},
                               timeout=300)
        as_files = requests.post(f"{server.url}/api/predict", files=study_files(study), timeout=300)
        rejected = requests.post(f"{server.url}/api/predict", files=study_files(partial_study), timeout=300)
        cli = [_cli(["predict", str(study), "--json"], server.data_dir, server.tmpdir),
               _cli(["predict", str(study)], server.data_dir, server.tmpdir),
               _cli(["predict", str(partial_study)], server.data_dir, server.tmpdir),
               _cli(["inspect", str(study), "--json"], server.data_dir, server.tmpdir)]
        listed = requests.get(f"{server.url}/api/predictions", timeout=60)
        health = requests.get(f"{server.url}/api/health", timeout=60)
        said += [answer.text for answer in (zipped, as_files, rejected, listed, health)]
    said += [run.stdout + run.stderr for run in cli]
    assert (zipped.status_code, as_files.status_code, rejected.status_code) == (200, 200, 400)
    assert [run.returncode for run in cli] == [0, 0, 2, 0]
    assert "single slice" in rejected.json()["error"] and len(listed.json()) == 6  # 3 attempts over REST, 3 by CLI

    service_data = tmp_path / "service-data"
    service = Service(settings=replace(get_settings(), data_dir=service_data, db_path=service_data / "mgmt.duckdb"),
                      import_cohort=False).start(background=False)
    said.append(json.dumps(service.predict(study, channel="app").report))
    with pytest.raises(InputError) as caught:
        service.predict(partial_study)
    said.append(caught.value.user_message)

    assert [found_in(text, secrets) for text in said] == [[]] * len(said)
    db = server.data_dir / "mgmt.duckdb"
    assert zipped.json()["study_hash"] in stored_text(db) and zipped.json()["study_hash"].encode() in db.read_bytes()
    for root in (server.data_dir, server.tmpdir, service_data):
        assert files_leaking(root, secrets) == {}
    assert found_in(server.log.read_bytes(), secrets) == []
    for database in (db, service_data / "mgmt.duckdb"):
        assert found_in(stored_text(database), secrets) == []


def _hash(folder: Path, settings: Settings) -> str:
    return load_study(folder, settings).study_hash


def _in(tmp_path: Path, name: str) -> Settings:
    return replace(get_settings(), data_dir=tmp_path / name)


@pytest.fixture
def small_study(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    write_study(root, shape=(12, 10, 8))
    return root


def test_the_stored_hash_cannot_be_recomputed_from_patient_id_and_study_uid(small_study: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_SALT", raising=False)
    settings = _in(tmp_path, "data")
    key = _hash(small_study, settings)
    identity = (PATIENT.patient_id, PATIENT.study_uid)
    unsalted = [study_hash(b"", *identity), hashlib.sha256("".join(identity).encode()).hexdigest(),
                hashlib.sha256("\0".join(identity).encode()).hexdigest(),
                hashlib.sha256(PATIENT.patient_id.encode()).hexdigest()]
    assert not any(candidate.startswith(key) or candidate[:24] == key for candidate in unsalted)
    assert key == study_hash(study_salt(settings), *identity)  # it is the salted one


def test_generated_salts_of_two_data_dirs_give_two_hashes(small_study: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_SALT", raising=False)
    first, second = _in(tmp_path, "first"), _in(tmp_path, "second")
    assert _hash(small_study, first) != _hash(small_study, second)
    assert first.salt_file.read_bytes() != second.salt_file.read_bytes()


def test_mgmt_salt_gives_one_hash_across_data_dirs_and_writes_no_salt_file(small_study: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MGMT_SALT", "a-salt-shared-by-two-deployments")
    first, second = _in(tmp_path, "first"), _in(tmp_path, "second")
    assert _hash(small_study, first) == _hash(small_study, second)
    assert not first.salt_file.exists() and not second.salt_file.exists()


def test_the_salt_file_is_made_once_private_and_reused(small_study: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_SALT", raising=False)
    settings = _in(tmp_path, "data")
    key = _hash(small_study, settings)
    made = settings.salt_file.stat()
    assert stat.S_IMODE(made.st_mode) == 0o600 and len(settings.salt_file.read_bytes().strip()) == 64
    assert _hash(small_study, settings) == key and study_salt(settings) == settings.salt_file.read_bytes().strip()
    assert (settings.salt_file.stat().st_ino, settings.salt_file.stat().st_mtime_ns) == (made.st_ino,
                                                                                          made.st_mtime_ns)


def test_the_api_health_answer_says_what_is_stored_and_for_how_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MGMT_API_TOKEN", raising=False)
    reset_service(Service(import_cohort=False))  # never started: health answers without loading a model
    try:
        answer = call(Starlette(routes=api_routes()), "GET", "/api/health")
    finally:
        reset_service(None)
    assert answer.status == 200 and answer.json()["storage"] == STORAGE
    storage = answer.json()["storage"]
    assert "salted one-way hash" in storage["stored"] and "never a patient name" in storage["stored"]
    assert "deleted as soon as each request is done" in storage["uploads"]
    assert "until an administrator purges them (python -m core purge --days N)" in storage["retention"]


@pytest.mark.slow
def test_the_home_page_says_what_is_stored_and_for_how_long() -> None:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not app.exception
    assert [info.value for info in app.info if info.value == STORAGE_NOTICE] == [STORAGE_NOTICE]
    assert all(part in STORAGE_NOTICE for part in STORAGE.values())
