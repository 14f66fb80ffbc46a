"""Uploads to a running app that go wrong: cut off half-way, abandoned before the answer, or with no room to stage.

Each leaves the server's TMPDIR as it was and no file open under it; a folder that cannot take the upload is a
503 naming it and the OS error, and the next upload after it is fixed works.
"""

from __future__ import annotations

import io
import resource
import socket
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.api.asgi import multipart
from tests.api.test_server import _spooled_files_open_in
from tests.api.uploads import study_files
from tests.app_server import AppServer

pytestmark = pytest.mark.slow
MiB = 1024 * 1024
SETTLE_S = 120.0
"""How long the server may take to finish what it was doing (a prediction) before leftovers are counted."""


@pytest.fixture(scope="module")
def baseline(app_server: AppServer) -> list[str]:
    """The server's TMPDIR entries once the model is loaded, before any upload."""
    assert app_server.wait_for_model()["status"] == "ok"
    return app_server.tmp_entries()


def _logged(server: AppServer) -> int:
    return len(requests.get(f"{server.url}/api/predictions", params={"limit": 1000}, timeout=60).json())


def _settled(server: AppServer, before: list[str], logged: int | None = None) -> tuple[list[str], list[str]]:
    """TMPDIR entries and files open under it, once they are back to ``before`` (and the log has ``logged`` rows),
    or as they are when SETTLE_S has passed."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        entries, open_files = server.tmp_entries(), _spooled_files_open_in(server)
        done = entries == before and not open_files and (logged is None or _logged(server) >= logged)
        if done or time.monotonic() > deadline:
            return entries, open_files
        time.sleep(0.2)


def _send(server: AppServer, body: bytes, content_type: str, declared: int, hold_s: float = 0.0) -> list[str]:
    """POST ``body`` to /api/predict on a raw socket declaring ``declared`` bytes, then hang up without reading
    (after up to ``hold_s`` while the server has nothing open under its TMPDIR); what it had open then."""
    address = urlsplit(server.url)
    head = (f"POST /api/predict HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    with socket.create_connection((address.hostname, address.port), timeout=60) as connection:
        connection.sendall(head + body)
        deadline = time.monotonic() + hold_s  # let the server take in what was sent before the line drops
        while not (open_files := _spooled_files_open_in(server)) and time.monotonic() < deadline:
            time.sleep(0.05)
    return open_files


def _padded_zip(study: Path, padding: int) -> bytes:
    """The study as a deflated zip with ``padding`` zero bytes in a first entry: tiny to send, large to unpack."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{study.name}/padding.bin", bytes(padding))
        for path in sorted(study.rglob("*")):
            if path.is_file():
                archive.write(path, f"{study.name}/{path.relative_to(study).as_posix()}")
    return buffer.getvalue()


def test_an_upload_cut_off_half_way_leaves_nothing(app_server: AppServer, baseline: list[str]) -> None:
    content_type, body = multipart([("study", "study.zip", bytes(range(256)) * (3 * MiB // 256))])
    spooled = _send(app_server, body[: len(body) // 2], content_type, declared=len(body), hold_s=10)
    assert spooled  # past the 1 MiB memory spool: the part was on disk when the client went
    assert _settled(app_server, baseline) == (baseline, [])


def test_a_client_that_hangs_up_before_the_answer_leaves_nothing(app_server: AppServer, baseline: list[str],
                                                                 synthetic_case: Path) -> None:
    logged = _logged(app_server)
    content_type, body = multipart([("study", "study.zip", _padded_zip(synthetic_case, 0))])
    _send(app_server, body, content_type, declared=len(body))
    assert _settled(app_server, baseline, logged + 1) == (baseline, [])
    assert _logged(app_server) == logged + 1  # the prediction ran to its end, then found nobody to answer


@pytest.fixture
def tmpdir_replaced_by_a_file(app_server: AppServer) -> Iterator[Path]:
    """The server's TMPDIR moved away and a file put in its place; put back afterwards."""
    away = app_server.tmpdir.with_name("tmp-away")
    app_server.tmpdir.rename(away)
    app_server.tmpdir.write_text("a file where the temporary folder should be")
    try:
        yield app_server.tmpdir
    finally:
        app_server.tmpdir.unlink()
        away.rename(app_server.tmpdir)


def test_a_temporary_folder_that_is_a_file_answers_503_naming_it(app_server: AppServer, baseline: list[str],
                                                                 synthetic_case: Path,
                                                                 tmpdir_replaced_by_a_file: Path) -> None:
    answer = requests.post(f"{app_server.url}/api/predict", files=study_files(synthetic_case), timeout=300)
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
    assert answer.json()["error"].startswith(f"The temporary folder '{tmpdir_replaced_by_a_file}' of this server "
                                             "cannot take the upload (Not a directory)")


@pytest.fixture
def files_capped(app_server: AppServer) -> Iterator[int]:
    """No file of the server process may grow past 512 KiB (as when its disk is full); lifted afterwards."""
    limit = MiB // 2
    before = resource.prlimit(app_server.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(app_server.pid, resource.RLIMIT_FSIZE, (limit, before[1]))
    try:
        yield limit
    finally:
        resource.prlimit(app_server.pid, resource.RLIMIT_FSIZE, before)


def test_a_full_temporary_folder_answers_503_and_leaves_nothing(app_server: AppServer, baseline: list[str],
                                                                synthetic_case: Path, files_capped: int) -> None:
    upload = {"study": ("study.zip", _padded_zip(synthetic_case, 4 * files_capped))}
    answer = requests.post(f"{app_server.url}/api/predict", files=upload, timeout=300)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"].startswith(f"The temporary folder '{app_server.tmpdir}' of this server cannot "
                                             "take the upload (File too large)")
    assert _settled(app_server, baseline) == (baseline, [])


def test_uploads_work_again_once_the_folder_is_fixed(app_server: AppServer, baseline: list[str],
                                                     synthetic_case: Path) -> None:
    padded = _padded_zip(synthetic_case, 0)
    answer = requests.post(f"{app_server.url}/api/predict", files={"study": ("study.zip", padded)},
                           timeout=300)
    assert answer.status_code == 200 and answer.json()["logged"] is True
    assert _settled(app_server, baseline) == (baseline, [])
