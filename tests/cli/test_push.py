"""``python -m core push``: refusals of folders unfit to publish, and a real upload to the stand-in Hub.

The upload runs the real huggingface_hub client in a subprocess against tests/model/hub_standin.py with Xet disabled
(the stand-in does not speak the Xet storage protocol; on the real Hub the weights would go through Xet instead of
the LFS batch API) and telemetry off (with it on, a client that thinks it runs inside an AI agent first GETs
/api/agent-harnesses to name it in its user agent). The test records exactly which requests reached the stand-in.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import InputError
from core.model import BUNDLED
from core.model.publish import check_model_folder
from tests.model.hub_standin import StandInHub

ROOT = Path(__file__).resolve().parents[2]
REPO = "mgmt-demo/resnet10"
EXPECTED_REQUESTS = [
    "POST /api/repos/create",
    f"POST /api/models/{REPO}/branch/v2",
    "POST /api/validate-yaml",  # upload_folder checks the card's metadata, then create_commit does again
    "POST /api/validate-yaml",
    f"POST /api/models/{REPO}/preupload/v2",
    f"POST /{REPO}.git/info/lfs/objects/batch",
    "PUT /lfs-upload/{sha256 of model.safetensors}",
    f"POST /api/models/{REPO}/commit/v2",
]


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A copy of the bundled model folder (trained on synthetic data; card, config, weights, oof, metrics)."""
    return Path(shutil.copytree(BUNDLED, tmp_path / "model"))


def _push(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", "push", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **env})


def test_the_bundled_folder_is_fit_to_publish_with_its_out_of_fold_files(model_dir: Path) -> None:
    publication = check_model_folder(model_dir)
    assert publication.files == ("config.json", "model.safetensors", "README.md", "oof.csv", "metrics.json",
                                 "ood.json", "decision.json", "evaluation-validation.json", "evaluation-held-out.json")
    config = json.loads((model_dir / "config.json").read_text())
    assert publication.synthetic and publication.auc == pytest.approx(config["metrics"]["auc"], abs=1e-4)


def test_a_card_without_the_synthetic_data_statement_is_refused(model_dir: Path) -> None:
    card = model_dir / "README.md"
    card.write_text(card.read_text().replace("Trained on synthetic data only", "Trained"))
    with pytest.raises(InputError) as caught:
        check_model_folder(model_dir)
    assert "'Trained on synthetic data only'" in caught.value.user_message and str(card) in caught.value.user_message


def test_a_card_without_the_research_use_statement_is_refused(model_dir: Path) -> None:
    card = model_dir / "README.md"
    card.write_text(card.read_text().replace("not a medical device", "a tool"))
    with pytest.raises(InputError) as caught:
        check_model_folder(model_dir)
    assert "research use only" in caught.value.user_message and str(card) in caught.value.user_message


def test_a_card_without_model_index_metrics_is_refused(model_dir: Path) -> None:
    card = model_dir / "README.md"
    text = card.read_text()
    card.write_text(text[text.index("\n---\n", 4) + 5:])  # the body without its front matter
    with pytest.raises(InputError) as caught:
        check_model_folder(model_dir)
    assert "no model-index metrics" in caught.value.user_message


def test_a_config_that_does_not_load_is_refused(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text())
    config["widen_factor"] = 0.25  # the weights are for another width
    (model_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError) as caught:
        check_model_folder(model_dir)
    assert "does not load, so it is not published" in caught.value.user_message
    assert "do not fit the network" in caught.value.user_message


def test_a_folder_without_weights_is_refused_naming_what_is_missing(model_dir: Path) -> None:
    (model_dir / "model.safetensors").unlink()
    with pytest.raises(InputError) as caught:
        check_model_folder(model_dir)
    assert f"'{model_dir}' lacks model.safetensors" in caught.value.user_message


@pytest.mark.slow
def test_push_uploads_the_folder_to_a_new_branch_and_the_app_can_load_it(model_dir: Path, tmp_path: Path) -> None:
    with StandInHub() as hub:
        env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": "hf_test",
               "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        pushed = _push([str(model_dir), "--repo", REPO, "--revision", "v2", "--private"], env)
        loaded = subprocess.run(
            [sys.executable, "-c", f"from core.model import load_model; m, s = load_model({REPO!r}, 'v2'); "
                                   "print(s.repo, s.revision)"],
            cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **env})
        weights_sha = hub.requests[6].rsplit("/", 1)[1]
        upload_requests = [r.split("?")[0] for r in hub.requests[:8]]
    assert pushed.returncode == 0, pushed.stderr
    commit = hub.branches[(REPO, "v2")]
    assert upload_requests == [r.replace("{sha256 of model.safetensors}", weights_sha) for r in EXPECTED_REQUESTS]
    assert sorted(hub.repos[REPO][commit]) == ["README.md", "config.json", "decision.json",
                                               "evaluation-held-out.json", "evaluation-validation.json",
                                               "metrics.json", "model.safetensors", "ood.json", "oof.csv"]
    assert hub.repos[REPO][commit]["model.safetensors"] == (model_dir / "model.safetensors").read_bytes()
    assert hub.private[REPO] is True and "synthetic data" in hub.commit_messages[0]
    assert f"MGMT_MODEL_REPO={REPO} MGMT_MODEL_REVISION={commit}" in pushed.stdout
    assert loaded.returncode == 0 and loaded.stdout.split() == [REPO, commit]


def test_push_refuses_a_bad_repo_id_before_any_request(model_dir: Path) -> None:
    with StandInHub() as hub:
        pushed = _push([str(model_dir), "--repo", "no-slash"], {"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0"})
    assert pushed.returncode == 2 and "expected ORG/NAME" in pushed.stderr and hub.requests == []


@pytest.mark.slow
def test_an_unreachable_hub_is_a_service_problem_naming_the_endpoint(model_dir: Path, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_DISABLE_XET": "1",
           "HF_TOKEN": "hf_test", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    pushed = _push([str(model_dir), "--repo", REPO], env)
    assert pushed.returncode == 3, pushed.stderr
    assert f"error: The Hub at http://127.0.0.1:{port} cannot be reached to publish '{REPO}'" in pushed.stderr


@pytest.mark.slow
def test_a_refused_token_is_the_users_to_fix_and_says_how(model_dir: Path, tmp_path: Path) -> None:
    with StandInHub() as hub:
        hub.write_token = "hf_right"
        env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": "hf_wrong",
               "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        pushed = _push([str(model_dir), "--repo", REPO], env)
        requests = list(hub.requests)
    assert pushed.returncode == 2, pushed.stderr
    assert f"error: The Hub refused to publish '{REPO}' (HTTP 401)" in pushed.stderr and "HF_TOKEN" in pushed.stderr
    # create_repo(exist_ok=True) asks whether the repo exists before giving up; nothing else is tried
    assert requests == ["POST /api/repos/create", f"GET /api/models/{REPO}"] and hub.repos == {}
