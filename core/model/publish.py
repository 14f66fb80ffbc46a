"""Publish a trained model folder to the Hugging Face Hub, after checking it is fit to be found there.

A folder is published only when its config loads with the project's loader (weights included, strictly), and its
card (README.md) says what the weights may be used for (research only, not a medical device), what data trained
them (synthetic data stated as such), and carries model-index metrics. Upload goes through huggingface_hub:
``create_repo`` (existing repos are reused), ``create_branch`` for a revision other than main, ``upload_folder``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.errors import InputError, ModelUnavailable, ServiceUnavailable
from core.model.card import SYNTHETIC_HEADLINE

REQUIRED = ("config.json", "model.safetensors", "README.md")
OPTIONAL = ("oof.csv", "metrics.json", "ood.json", "decision.json", "evaluation-validation.json",
            "evaluation-held-out.json")
"""Out-of-fold predictions and metrics, the OOD gate, the decision rule and the evaluations' error-reject figures,
published when the folder has them."""
RESEARCH_STATEMENT = "not a medical device"
SYNTHETIC_STATEMENT = SYNTHETIC_HEADLINE.split(":")[0].strip("*")  # "Trained on synthetic data only"


@dataclass(frozen=True)
class Publication:
    """What will be published: the folder, its files, and the card's headline metric."""

    folder: Path
    files: tuple[str, ...]
    auc: float | None
    synthetic: bool


@dataclass(frozen=True)
class Published:
    """Where it went: the repo, the revision (branch) and the commit the Hub made."""

    repo: str
    revision: str
    commit: str
    url: str


HUB = "https://huggingface.co"


def tree_url(repo: str, revision: str) -> str:
    """Where a Hub model repo's files at ``revision`` can be browsed (on HF_ENDPOINT when set)."""
    endpoint = (os.environ.get("HF_ENDPOINT") or HUB).rstrip("/")
    return f"{endpoint}/{repo}/tree/{revision}"


def check_model_folder(folder: Path) -> Publication:
    """The folder's publication, or InputError naming the folder and what it lacks."""
    if not folder.is_dir():
        raise InputError(f"Model folder '{folder}' does not exist; expected a folder written by `python -m core "
                         "train --out DIR` (config.json, model.safetensors, README.md).")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise InputError(f"Model folder '{folder}' lacks {', '.join(missing)}; expected config.json, "
                         "model.safetensors and a README.md card, as `python -m core train` writes them.")
    _check_loads(folder)
    synthetic, auc = _check_card(folder)
    files = REQUIRED + tuple(name for name in OPTIONAL if (folder / name).is_file())
    return Publication(folder, files, auc, synthetic)


def _check_loads(folder: Path) -> None:
    from core.model.hub import load_model

    try:
        load_model(str(folder))
    except ModelUnavailable as err:
        raise InputError(f"Model folder '{folder}' does not load, so it is not published: {err.user_message}") from err


def _check_card(folder: Path) -> tuple[bool, float | None]:
    """(trained on synthetic data, out-of-fold AUC) from the card; InputError for a card that would mislead."""
    from huggingface_hub import ModelCard

    path = folder / "README.md"
    card = ModelCard.load(path)
    body = card.text.lower()
    results = card.data.eval_results or []
    if not results:
        raise InputError(f"The card '{path}' has no model-index metrics in its front matter; expected the "
                         "metrics `python -m core train` writes there (ROC AUC, accuracy, F1, Brier).")
    if RESEARCH_STATEMENT not in body or "research" not in body:
        raise InputError(f"The card '{path}' does not say the model is for research use only and "
                         f"'{RESEARCH_STATEMENT}'; expected that statement (as `python -m core train` writes it).")
    synthetic = any(str(r.dataset_type).lower() == "synthetic" for r in results) or "synthetic" in body
    if synthetic and SYNTHETIC_STATEMENT.lower() not in body:
        raise InputError(f"The card '{path}' describes a model trained on synthetic data without saying so "
                         f"plainly; expected the statement '{SYNTHETIC_STATEMENT}' (as `python -m core train` "
                         "writes it), so nobody takes the weights for a clinical model.")
    auc = next((float(r.metric_value) for r in results if r.metric_type == "roc_auc"), None)
    return synthetic, auc


def push_model(publication: Publication, repo: str, revision: str = "main", private: bool = False) -> Published:
    """Create ``repo`` (or reuse it), create the ``revision`` branch when needed, and upload the folder's files."""
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None)
    auc = f", out-of-fold ROC AUC {publication.auc:.3f}" if publication.auc is not None else ""
    data = "synthetic data" if publication.synthetic else "real data"
    try:
        api.create_repo(repo, private=private, exist_ok=True, repo_type="model")
        if revision != "main":
            api.create_branch(repo, branch=revision, exist_ok=True, repo_type="model")
        commit = api.upload_folder(repo_id=repo, folder_path=publication.folder, revision=revision,
                                   allow_patterns=list(publication.files), repo_type="model",
                                   commit_message=f"MGMT model trained on {data}{auc} (research use only)")
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        if status in (401, 403):
            raise InputError(f"The Hub refused to publish '{repo}' (HTTP {status}); expected a write token for "
                             "that namespace: set HF_TOKEN or run `hf auth login`.") from err
        raise ServiceUnavailable(f"The Hub could not publish '{repo}' (revision '{revision}'): "
                                 f"{str(err).splitlines()[0][:300]}") from err
    except (httpx2.TransportError, OSError) as err:  # connection refused, DNS, timeouts
        raise ServiceUnavailable(f"The Hub at {api.endpoint} cannot be reached to publish '{repo}' ({err}); "
                                 "check the network or HF_ENDPOINT.") from err
    return Published(repo, revision, commit.oid, commit.commit_url)
