"""The Hugging Face Space: README front matter and Dockerfile agree, and the Dockerfile, replayed without Docker, works.

There is no Docker engine here, so the replay does what a build and a start would: a fresh virtual environment gets
each ``RUN pip install`` of the Dockerfile (without byte-compiling; its ARGs are not exported: PyTorch's CPU index
cannot be reached here, and this machine's pip finds the CPU torch wheel on its own), an app folder gets each COPY,
and the CMD runs under ``/bin/sh -c`` with the Dockerfile's ENV, its port replaced by a free one and its address by
loopback, plus ``HF_HUB_OFFLINE=1`` for this machine only. ``MGMT_PERSISTENT_DIR`` stands in for a Space's ``/data``
volume. Other RUN lines (the user account, folder ownership) need root inside an image and are not replayed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from huggingface_hub import SpaceCard

from tests.api.uploads import study_zip
from tests.app_server import LOOPBACK, ROOT, AppServer, _stop, _wait_until_healthy, free_port

DOCKERFILE = ROOT / "Dockerfile"
PORT = 8501
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
RSNA_STUDY_ZIP_MB = 510
"""An RSNA-MICCAI study (FLAIR 400, T1w 33, T1wCE 129, T2w 408 slices of 512x512) as a zip, in MB."""
INSTALL_TIMEOUT_S = 900


@dataclass(frozen=True)
class Dockerfile:
    """The instructions of a Dockerfile as (KEYWORD, arguments), continuation lines joined, comments dropped."""

    instructions: tuple[tuple[str, str], ...]

    @classmethod
    def read(cls, path: Path) -> Dockerfile:
        instructions, pending = [], ""
        for line in path.read_text().splitlines():
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.endswith("\\"):
                pending += text[:-1] + " "
                continue
            keyword, _, arguments = (pending + text).partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
        return cls(tuple(instructions))

    def all(self, keyword: str) -> list[str]:
        return [arguments for name, arguments in self.instructions if name == keyword]

    def variables(self, keyword: str) -> dict[str, str]:
        """``NAME=value`` pairs of every ENV (or ARG) instruction."""
        pairs = [item.partition("=") for arguments in self.all(keyword) for item in shlex.split(arguments)]
        return {name: value for name, _, value in pairs}

    @property
    def command(self) -> str:
        (command,) = self.all("CMD")
        assert not command.startswith("["), "the replay expects the shell form of CMD"
        return command

    @property
    def healthcheck(self) -> str:
        (healthcheck,) = self.all("HEALTHCHECK")
        return healthcheck.split(" CMD ", 1)[1]

    def streamlit_options(self) -> dict[str, str]:
        return dict(re.findall(r"--server\.(\w+)[ =](\S+)", self.command))


@dataclass(frozen=True)
class Replay:
    """An app folder and a virtual environment made by replaying the Dockerfile, and how long the install took."""

    dockerfile: Dockerfile
    app: Path
    venv: Path
    install_s: float


def _copy(arguments: str, app: Path) -> None:
    """One COPY: sources from the repository into the app folder, as Docker copies them."""
    *sources, destination = [word for word in shlex.split(arguments) if not word.startswith("--")]
    for source in sources:
        origin = ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, app / destination, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target = app / destination
            if destination.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            shutil.copy(origin, target / origin.name if target.is_dir() else target)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return Dockerfile.read(DOCKERFILE)


@pytest.fixture(scope="module")
def replay(dockerfile: Dockerfile, tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """The Dockerfile's COPY and ``RUN pip install`` steps, in order, into a new app folder and virtual environment."""
    root = tmp_path_factory.mktemp("space")
    app, venv = root / "app", root / "venv"
    app.mkdir()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    for keyword, arguments in dockerfile.instructions:
        if keyword == "COPY":
            _copy(arguments, app)
        elif keyword == "RUN" and arguments.startswith("pip install"):
            # --no-compile: pip's byte-compiling of every installed module is more than half of the install's time
            # here (35 of 60 s) and changes nothing the replay checks: Python compiles what the app imports.
            run = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", *shlex.split(arguments)[1:],
                                  "--no-compile"], cwd=app,
                                 capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
            assert run.returncode == 0, f"{arguments}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    install_s = time.perf_counter() - started
    print(f"Dockerfile replay: fresh venv and pip installs in {install_s:.0f} s")
    return Replay(dockerfile, app, venv, install_s)


@contextmanager
def started_space(replay: Replay, volume: Path, home: Path) -> Iterator[AppServer]:
    """The Dockerfile's CMD in the replayed app folder, with ``volume`` as the persistent-storage folder."""
    port = free_port()
    command = replay.dockerfile.command
    command, ports = re.subn(rf"--server\.port[ =]{PORT}\b", f"--server.port {port}", command)
    command, addresses = re.subn(r"--server\.address[ =]0\.0\.0\.0", f"--server.address {LOOPBACK}", command)
    assert (ports, addresses) == (1, 1), "expected one --server.port 8501 and one --server.address 0.0.0.0 in CMD"
    home.mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    env = {"PATH": f"{replay.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           **replay.dockerfile.variables("ENV"),
           "HOME": str(home), "TMPDIR": str(home / "tmp"), "MGMT_PERSISTENT_DIR": str(volume), "HF_HUB_OFFLINE": "1"}
    log = home / "space.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(["/bin/sh", "-c", command], cwd=replay.app, env=env, stdout=output,
                                   stderr=subprocess.STDOUT)
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_until_healthy(url, process, log)
        yield AppServer(url=url, pid=process.pid, data_dir=volume, tmpdir=home / "tmp", log=log, env=env)
    finally:
        _stop(process)


def test_readme_front_matter_describes_the_docker_space(dockerfile: Dockerfile) -> None:
    card = SpaceCard.load(ROOT / "README.md")
    assert (card.data.sdk, card.data.app_port) == ("docker", PORT)
    assert dockerfile.all("EXPOSE") == [str(PORT)] and dockerfile.streamlit_options()["port"] == str(PORT)
    assert "Research use only" in card.data.short_description and len(card.data.short_description) <= 60


def test_readme_still_opens_with_the_run_and_test_commands_after_the_front_matter() -> None:
    body = SpaceCard.load(ROOT / "README.md").text
    commands = re.findall(r"```\n(.*?)\n```", body, flags=re.S)[:2]
    assert body.startswith("# ") and "streamlit run app.py" in commands[0] and "pytest" in commands[1]


def test_image_runs_as_uid_1000_and_may_reach_the_hub(dockerfile: Dockerfile) -> None:
    assert any("useradd" in run and "--uid 1000 user" in run for run in dockerfile.all("RUN"))
    assert dockerfile.all("USER") == ["user"]
    assert "HF_HUB_OFFLINE" not in {**dockerfile.variables("ENV"), **dockerfile.variables("ARG")}
    assert dockerfile.variables("ENV")["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] == "false"


def test_torch_comes_from_the_cpu_index_at_build_time_only(dockerfile: Dockerfile) -> None:
    assert dockerfile.variables("ARG")["PIP_EXTRA_INDEX_URL"] == CPU_TORCH_INDEX
    assert "PIP_EXTRA_INDEX_URL" not in dockerfile.variables("ENV")
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text().split()


def test_uploads_fit_an_rsna_study_inside_the_spaces_iframe(dockerfile: Dockerfile) -> None:
    options = dockerfile.streamlit_options()
    assert int(options["maxUploadSize"]) >= 1.5 * RSNA_STUDY_ZIP_MB
    assert options["enableXsrfProtection"] == "false" and options["xsrfCookieSameSite"] == "none"


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow
def test_replayed_space_predicts_and_keeps_its_data_on_the_volume(replay: Replay, tmp_path: Path,
                                                                   synthetic_case: Path) -> None:
    volume = tmp_path / "data"
    volume.mkdir()
    beside_the_app = _files(replay.app / "data")
    with started_space(replay, volume, tmp_path / "home") as space:
        assert requests.get(f"{space.url}/_stcore/health", timeout=10).text == "ok"
        health = space.wait_for_model()
        assert health["status"] == "ok" and health["model"]["repo"] == "bundled weights/"
        port = space.url.rsplit(":", 1)[1]
        probe = subprocess.run(["/bin/sh", "-c", replay.dockerfile.healthcheck.replace(f":{PORT}/", f":{port}/")],
                               env=space.env, timeout=30)
        assert probe.returncode == 0
        upload = requests.put(f"{space.url}/_stcore/upload_file/no-session/file-1", files={"file": b"x"}, timeout=10)
        assert upload.status_code == 400, upload.text  # an unknown session, not 403 for a missing XSRF token
        answer = requests.post(f"{space.url}/api/predict", files={"study": ("study.zip", study_zip(synthetic_case))},
                               timeout=300)
        assert answer.status_code == 200 and 0 <= answer.json()["probability"] <= 1, answer.text
    assert {"mgmt.duckdb", "salt"} <= set(_files(volume / "mgmt"))  # the salt of study hashes persists with the log
    assert _files(replay.app / "data") == beside_the_app
    assert f"MGMT data folder: {volume / 'mgmt'}" in space.log.read_text()


@pytest.mark.slow
def test_replayed_space_without_a_volume_keeps_its_data_beside_the_app(replay: Replay, tmp_path: Path) -> None:
    with started_space(replay, tmp_path / "no-volume", tmp_path / "home") as space:
        assert space.wait_for_model()["status"] == "ok"
    assert "mgmt.duckdb" in _files(replay.app / "data")
    assert not (tmp_path / "no-volume").exists()
    assert "(not persistent)" in space.log.read_text()
