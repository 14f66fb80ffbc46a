"""A stand-in for the Hugging Face Hub's file endpoints on 127.0.0.1, so the real client can be tested here.

It serves ``/{org}/{name}/resolve/{revision}/{filename}`` (HEAD and GET) for model folders registered at a
commit hash, answers branch names with that commit, and uses the Hub's error headers (X-Error-Code).

It also takes uploads the way huggingface_hub's ``create_repo`` / ``create_branch`` / ``upload_folder`` send them
with Xet disabled (``HF_HUB_DISABLE_XET=1``; the Xet storage protocol is out of its reach): repo creation, branch
creation, README metadata validation, pre-upload (weights as LFS, the rest inline), the LFS batch API with
``basic`` transfer (a PUT of the bytes), and the NDJSON commit, which becomes a new commit readable at once.
Every request is recorded in ``requests`` as ``"METHOD /path"``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class StandInHub:
    """``with StandInHub() as hub: hub.add(repo, folder, commit)``; ``hub.endpoint`` is its URL."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, dict[str, bytes]]] = {}  # repo -> commit -> filename -> bytes
        self.branches: dict[tuple[str, str], str] = {}
        self.requests: list[str] = []
        self.private: dict[str, bool] = {}
        self.lfs: dict[str, bytes] = {}  # sha256 -> bytes uploaded through the LFS batch API
        self.commit_messages: list[str] = []
        self.write_token: str | None = None  # when set, uploads need ``Authorization: Bearer <it>`` (else 401)
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append(f"{self.command} {self.path}")
                parts = self.path.split("?")[0].strip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._error(404, "RepoNotFound")
                repo, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                if repo not in hub.repos:
                    return self._error(401, "RepoNotFound")
                commit = hub.branches.get((repo, revision), revision)
                files = hub.repos[repo].get(commit)
                if files is None:
                    return self._error(404, "RevisionNotFound")
                if filename not in files:
                    return self._error(404, "EntryNotFound")
                data = files[filename]
                self.send_response(200)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def do_POST(self) -> None:
                hub.requests.append(f"POST {self.path}")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if hub.write_token and self.headers.get("Authorization") != f"Bearer {hub.write_token}":
                    return self._json(401, {"error": "Invalid username or password."})
                path = self.path.split("?")[0]
                parts = path.strip("/").split("/")
                if path == "/api/repos/create":
                    return self._json(*hub._create(json.loads(body)))
                if path == "/api/validate-yaml":
                    return self._json(200, {"errors": [], "warnings": []})
                if path.endswith(".git/info/lfs/objects/batch"):
                    return self._json(200, hub._lfs_batch(json.loads(body)), "application/vnd.git-lfs+json")
                if len(parts) >= 5 and parts[:1] == ["api"] and parts[1] == "models":
                    repo, action, revision = "/".join(parts[2:4]), parts[4], "/".join(parts[5:])
                    if repo not in hub.repos:
                        return self._error(404, "RepoNotFound")
                    if action == "branch":
                        return self._json(*hub._branch(repo, revision))
                    if action == "preupload":
                        files = json.loads(body)["files"]
                        return self._json(200, {"files": [
                            {"path": f["path"], "uploadMode": "lfs" if f["path"].endswith(".safetensors")
                             else "regular", "shouldIgnore": False, "oid": None} for f in files]})
                    if action == "commit":
                        return self._json(*hub._commit(repo, revision, body))
                return self._error(404, "EntryNotFound")

            def do_PUT(self) -> None:
                hub.requests.append(f"PUT {self.path}")
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                oid = self.path.split("?")[0].rstrip("/").split("/")[-1]
                if hashlib.sha256(data).hexdigest() != oid:
                    return self._error(400, "BadRequest")
                hub.lfs[oid] = data
                self._json(200, {})

            def _json(self, status: int, payload: dict, content_type: str = "application/json") -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo: str, folder: Path, commit: str, branch: str | None = "main") -> None:
        """Publish every file of ``folder`` as ``repo`` at ``commit`` (and point ``branch`` at it)."""
        files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        self.repos.setdefault(repo, {})[commit] = files
        if branch:
            self.branches[(repo, branch)] = commit

    def _create(self, request: dict) -> tuple[int, dict]:
        repo = f"{request.get('organization') or 'user'}/{request['name']}"
        if repo in self.repos:
            return 409, {"error": "You already created this model repo", "url": f"{self.endpoint}/{repo}"}
        self.repos[repo] = {}
        self.private[repo] = bool(request.get("private")) or request.get("visibility") == "private"
        return 200, {"url": f"{self.endpoint}/{repo}", "name": repo}

    def _branch(self, repo: str, branch: str) -> tuple[int, dict]:
        if (repo, branch) in self.branches:
            return 409, {"error": f"Reference refs/heads/{branch} already exists"}
        self.branches[(repo, branch)] = self.branches.get((repo, "main"), "0" * 40)
        return 200, {}

    def _lfs_batch(self, request: dict) -> dict:
        objects = [{"oid": o["oid"], "size": o["size"], "authenticated": True,
                    "actions": {"upload": {"href": f"{self.endpoint}/lfs-upload/{o['oid']}"}}}
                   for o in request["objects"]]
        return {"transfer": "basic", "objects": objects}

    def _commit(self, repo: str, revision: str, body: bytes) -> tuple[int, dict]:
        parent = self.branches.get((repo, revision))
        files = dict(self.repos[repo].get(parent, {})) if parent else {}
        for line in body.splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "header":
                self.commit_messages.append(value["summary"])
            elif item["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif item["key"] == "lfsFile":
                if value["oid"] not in self.lfs:
                    return 400, {"error": f"LFS object {value['oid']} was never uploaded"}
                files[value["path"]] = self.lfs[value["oid"]]
        commit = hashlib.sha1(json.dumps(sorted((k, hashlib.sha256(v).hexdigest()) for k, v in files.items()))
                              .encode() + str(len(self.commit_messages)).encode()).hexdigest()
        self.repos[repo][commit] = files
        self.branches[(repo, revision)] = commit
        return 200, {"commitUrl": f"{self.endpoint}/{repo}/commit/{commit}", "commitOid": commit,
                     "pullRequestUrl": None}

    def __enter__(self) -> StandInHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
