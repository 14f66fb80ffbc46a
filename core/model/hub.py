"""Load the model from a local folder (default: the bundled ``weights/``) or a Hugging Face Hub repo.

Hub downloads go through huggingface_hub (its cache, revision pinning, commit hashes); the revision that was
actually loaded (a commit hash) is reported, so every prediction can name it. An unreachable Hub fails within
a few seconds with a message naming the repo and revision.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.config import get_settings
from core.errors import ModelUnavailable
from core.model.config import ModelConfig
from core.model.network import MGMTNet

BUNDLED = Path(__file__).resolve().parents[2] / "weights"
"""The model folder shipped with the code (works offline)."""
FILES = ("config.json", "model.safetensors")
OPTIONAL_FILES = ("ood.json", "oof.csv", "decision.json", "evaluation-validation.json", "evaluation-held-out.json")
"""Downloaded with a Hub model when its repo has them: the out-of-distribution gate's reference, the out-of-fold
predictions the Cohort page shows, the decision rule, and the error-reject figures of the validation and held-out
evaluations; a model without them still serves (no gate, no training cohort, no call without a rule's guarantee)."""
HUB_TIMEOUT_S = 4.0



@dataclass(frozen=True)
class ModelSource:
    """Where a loaded model came from: a folder or a Hub repo, and the revision actually loaded."""

    repo: str
    revision: str
    folder: Path

    @property
    def from_hub(self) -> bool:
        return self.revision != "local"

    @property
    def where(self) -> str:
        """What an error names for the operator: the Hub repo, or the local folder's path."""
        return self.repo if self.from_hub else str(self.folder)


def display_name(folder: Path) -> str:
    """How a local model folder is named to users and in the log: "bundled weights/" for the default, else the
    folder's own name (a server's absolute path is never shown)."""
    if folder.resolve() == BUNDLED.resolve():
        return "bundled weights/"
    return f"local {folder.resolve().name}/"


def _is_repo_id(name: str) -> bool:
    return bool(re.fullmatch(r"[\w.-]+/[\w.-]+", name)) and not Path(name).exists()


def resolve(repo_or_dir: str | None = None, revision: str | None = None) -> ModelSource:
    """Find the model files: a local folder as is, or a Hub repo downloaded into the huggingface_hub cache."""
    settings = get_settings()
    name = repo_or_dir or settings.model_repo or str(BUNDLED)
    revision = revision or settings.model_revision or None
    if not _is_repo_id(name):
        folder = Path(name)
        missing = [f for f in FILES if not (folder / f).is_file()]
        if missing:
            raise ModelUnavailable(f"Model folder '{folder}' lacks {', '.join(missing)}; expected a Hugging Face "
                                   "model folder with config.json and model.safetensors (see weights/).")
        return ModelSource(repo=display_name(folder), revision="local", folder=folder)
    return _download(name, revision or "main")


def _download(repo: str, revision: str) -> ModelSource:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = os.environ.get("HF_ENDPOINT") or None
    reachable = _hub_answers(repo, revision, endpoint)
    paths = []
    try:
        for filename in FILES:  # unreachable: the local cache only, instead of ~25 s of retries
            paths.append(Path(hf_hub_download(repo, filename, revision=revision, endpoint=endpoint,
                                              etag_timeout=HUB_TIMEOUT_S, local_files_only=not reachable)))
    except RevisionNotFoundError as err:
        raise ModelUnavailable(f"Model repo '{repo}' has no revision '{revision}'; expected a branch, tag or "
                               "commit hash of that repo.") from err
    except RepositoryNotFoundError as err:
        raise ModelUnavailable(f"Model repo '{repo}' (revision '{revision}') was not found on the Hub; expected "
                               "an existing model repo you can access (check MGMT_MODEL_REPO).") from err
    except LocalEntryNotFoundError as err:
        raise ModelUnavailable(f"Model repo '{repo}' (revision '{revision}') cannot be reached and is not in the "
                               "local cache; expected the Hub to be reachable (or HF_HUB_OFFLINE unset), or use the "
                               "bundled weights/ folder.") from err
    except EntryNotFoundError as err:
        raise ModelUnavailable(f"Model repo '{repo}' (revision '{revision}') lacks {FILES[len(paths)]}; expected "
                               "a repo saved with save_pretrained.") from err
    for filename in OPTIONAL_FILES:
        try:
            hf_hub_download(repo, filename, revision=revision, endpoint=endpoint, etag_timeout=HUB_TIMEOUT_S,
                            local_files_only=not reachable)
        except (EntryNotFoundError, LocalEntryNotFoundError):
            pass  # the repo does not have it (or the cache lacks it offline): that part is simply absent
    folder = paths[0].parent
    return ModelSource(repo=repo, revision=folder.name, folder=folder)  # snapshots/<commit hash>/


def _hub_answers(repo: str, revision: str, endpoint: str | None) -> bool:
    """One quick HEAD of config.json: False when the Hub cannot be reached (network error, timeout, 5xx)."""
    import httpx2
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    if constants.is_offline_mode():
        return False
    url = hf_hub_url(repo, FILES[0], revision=revision, endpoint=endpoint)
    try:
        get_hf_file_metadata(url, timeout=HUB_TIMEOUT_S, endpoint=endpoint, retry_on_errors=False)
    except (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError):
        return False
    except HfHubHTTPError as err:  # the Hub answered; hf_hub_download will raise the precise error
        return err.response is None or err.response.status_code not in (408, 429, 500, 502, 503, 504)
    return True


def load_model(repo_or_dir: str | None = None, revision: str | None = None) -> tuple[MGMTNet, ModelSource]:
    """The network in eval mode with its weights loaded strictly, and where it came from."""
    source = resolve(repo_or_dir, revision)
    ModelConfig.read(source.folder / FILES[0])  # every field checked first: the error names the wrong one
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the mixin prints "Loading weights..." to stdout
            model = MGMTNet.from_pretrained(str(source.folder), strict=True)
    except RuntimeError as err:
        raise ModelUnavailable(f"The weights in '{source.where}' (revision {source.revision}) do not fit the network "
                               f"its config.json describes ({str(err).splitlines()[0][:300]}); expected a model "
                               "saved by this project's save_pretrained.") from err
    except (TypeError, ValueError) as err:
        raise ModelUnavailable(f"The config.json of '{source.where}' (revision {source.revision}) is not understood "
                               f"({err}); expected one written by this project's save_pretrained.") from err
    return model.eval(), source
