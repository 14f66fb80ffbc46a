"""Model loading: save/load round trip, strict key checks, and the Hub path against a local stand-in Hub."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from core.model import BUNDLED, MGMTNet, ModelUnavailable, load_model
from tests.model.hub_standin import StandInHub

ROOT = Path(__file__).resolve().parents[2]
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40
SCRIPT = (
    "import json, torch; from core.model import load_model; "
    "m, s = load_model({repo!r}, {revision!r}); "
    "print(json.dumps({{'repo': s.repo, 'revision': s.revision, 'bias': float(m.head[-1].bias.detach())}}))"
)


def _model(tmp_path: Path, name: str, bias: float) -> Path:
    model = MGMTNet(widen_factor=0.25)
    with torch.no_grad():
        model.head[-1].bias.fill_(bias)
    model.save_pretrained(tmp_path / name)
    return tmp_path / name


def _load_in_subprocess(repo: str, revision: str | None, env: dict[str, str]) -> subprocess.CompletedProcess:
    code = SCRIPT.format(repo=repo, revision=revision)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_bundled_weights_load_strictly_and_fit_the_budget() -> None:
    model, source = load_model()
    assert source.folder == BUNDLED and source.revision == "local"
    assert (BUNDLED / "model.safetensors").stat().st_size <= 32_000_000  # the budget: 32 MB
    assert model.config.preprocessing.sequences == ("FLAIR", "T1w", "T1wCE", "T2w")
    card = (BUNDLED / "README.md").read_text()
    headline = card.split("---\n", 2)[2].lstrip().splitlines()[0]  # the first line after the front matter
    assert headline.startswith(("**These weights are randomly initialised", "**Trained on synthetic data only"))
    assert "0.62174" in card and "0.562" in card


def test_save_and_load_round_trip_from_a_folder(tmp_path: Path) -> None:
    folder = _model(tmp_path, "m", bias=0.75)
    model, source = load_model(str(folder))
    assert float(model.head[-1].bias.detach()) == pytest.approx(0.75)
    assert json.loads((folder / "config.json").read_text())["widen_factor"] == 0.25
    x = torch.randn(1, 4, 32, 32, 32)
    original = MGMTNet.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        assert torch.allclose(model(x), original(x))


def test_mismatched_checkpoint_fails_with_a_clear_message(tmp_path: Path) -> None:
    folder = _model(tmp_path, "m", bias=0.0)
    config = json.loads((folder / "config.json").read_text())
    config["widen_factor"] = 0.5  # the weights are for 0.25
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelUnavailable) as err:
        load_model(str(folder))
    assert str(folder) in err.value.user_message and "do not fit the network" in err.value.user_message


def test_folder_without_weights(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable) as err:
        load_model(str(tmp_path / "empty"))
    assert "lacks config.json, model.safetensors" in err.value.user_message


@pytest.mark.slow
def test_hub_download_pins_revisions_and_reuses_the_cache(tmp_path: Path) -> None:
    first, second = _model(tmp_path, "first", 0.25), _model(tmp_path, "second", -0.5)
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_TELEMETRY": "1"}
    with StandInHub() as hub:
        hub.add("mgmt-demo/resnet10", first, COMMIT_A, branch=None)
        hub.add("mgmt-demo/resnet10", second, COMMIT_B, branch="main")
        env["HF_ENDPOINT"] = hub.endpoint
        pinned = _load_in_subprocess("mgmt-demo/resnet10", COMMIT_A, env)
        latest = _load_in_subprocess("mgmt-demo/resnet10", None, env)
        missing = _load_in_subprocess("mgmt-demo/resnet10", "c" * 40, env)
        assert any("/resolve/" in r for r in hub.requests)
    assert json.loads(pinned.stdout) == {"repo": "mgmt-demo/resnet10", "revision": COMMIT_A, "bias": 0.25}
    assert json.loads(latest.stdout) == {"repo": "mgmt-demo/resnet10", "revision": COMMIT_B, "bias": -0.5}
    assert "has no revision 'cccc" in missing.stderr
    offline = _load_in_subprocess("mgmt-demo/resnet10", COMMIT_A, {**env, "HF_HUB_OFFLINE": "1"})
    assert json.loads(offline.stdout)["bias"] == 0.25  # served from the local cache, no server running


@pytest.mark.slow
def test_unreachable_hub_fails_fast_naming_repo_and_revision(tmp_path: Path) -> None:
    """A Hub that drops every connection is tried once, not retried (the retrying client spent ~25 s here)."""
    attempts = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def drop_connections() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            attempts.append(1)
            connection.close()

    threading.Thread(target=drop_connections, daemon=True).start()
    port = listener.getsockname()[1]
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}"}
    try:
        result = _load_in_subprocess("mgmt-demo/resnet10", "v1", env)
    finally:
        listener.close()
    assert 1 <= len(attempts) <= 2  # one look at config.json (a keep-alive reconnect at most), no retry loop
    assert result.returncode != 0
    assert "Model repo 'mgmt-demo/resnet10' (revision 'v1') cannot be reached" in result.stderr
