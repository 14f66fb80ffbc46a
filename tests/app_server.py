"""A real ``streamlit run app.py`` on a free loopback port, for tests of the REST API and of the pages in a browser.

Use the ``app_server`` fixture (one server per test module; register it with ``from tests.app_server import
app_server`` in a conftest.py). A module sets extra environment for its server with ``APP_SERVER_ENV``::

    APP_SERVER_ENV = {"MGMT_API_TOKEN": "s3cret"}

    def test_health(app_server: AppServer) -> None:
        assert requests.get(f"{app_server.url}/api/health", timeout=10).ok

Or start one directly: ``with running_app(folder, {"MGMT_MAX_UPLOAD_MB": "1"}) as server: ...``. The server gets
its own data folder (MGMT_DATA_DIR), TMPDIR, HF_HUB_OFFLINE=1 and no usage statistics; no MGMT_* variable of the
calling environment leaks into it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 120.0
MODEL_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class AppServer:
    """A running app: its base URL, its process id (its open files are under /proc/<pid>/fd on Linux) and the
    folders it was given."""

    url: str
    pid: int
    data_dir: Path
    tmpdir: Path
    log: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def tmp_entries(self) -> list[str]:
        """What is in the server's TMPDIR now (uploads must leave nothing behind)."""
        return sorted(entry.name for entry in self.tmpdir.iterdir())

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_model(self, headers: Mapping[str, str] | None = None,
                       timeout: float = MODEL_TIMEOUT_S) -> dict:
        """The ``/api/health`` answer once the model has finished loading (ready or failed)."""
        deadline = time.monotonic() + timeout
        while True:
            answer = requests.get(f"{self.url}/api/health", headers=dict(headers or {}), timeout=30).json()
            if answer["model"]["state"] != "loading":
                return answer
            if time.monotonic() > deadline:
                raise TimeoutError(f"the model was still loading after {timeout:.0f} s:\n{self.log_tail()}")
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def server_env(data_dir: Path, tmpdir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MGMT_")}
    env.update(HF_HUB_OFFLINE="1", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", MGMT_DATA_DIR=str(data_dir),
               TMPDIR=str(tmpdir), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _wait_until_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if requests.get(f"{url}/_stcore/health", timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still starting up
            pass
        time.sleep(0.25)
    raise TimeoutError(f"streamlit did not answer /_stcore/health within {START_TIMEOUT_S:.0f} s:\n"
                       f"{log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_app(folder: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[AppServer]:
    """Start ``streamlit run app.py`` with its data and TMPDIR under ``folder``; stop it when the block ends."""
    data_dir, tmpdir = folder / "data", folder / "tmp"
    data_dir.mkdir(parents=True, exist_ok=True)
    tmpdir.mkdir(parents=True, exist_ok=True)
    extra = dict(extra_env or {})
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    log = folder / "streamlit.log"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
               "--server.address", LOOPBACK, "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    with open(log, "wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=server_env(data_dir, tmpdir, extra), stdout=output,
                                   stderr=subprocess.STDOUT)
    try:
        _wait_until_healthy(url, process, log)
        yield AppServer(url=url, pid=process.pid, data_dir=data_dir, tmpdir=tmpdir, log=log, env=extra)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def app_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """One app per test module, with the module's ``APP_SERVER_ENV`` (if any) added to its environment."""
    extra = getattr(request.module, "APP_SERVER_ENV", {})
    with running_app(tmp_path_factory.mktemp("app-server"), extra) as server:
        yield server
