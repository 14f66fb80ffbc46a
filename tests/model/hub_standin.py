"""A stand-in for the Hugging Face Hub's file endpoints on 127.0.0.1, so the real client can be tested here.

It serves ``/{org}/{name}/resolve/{revision}/{filename}`` (HEAD and GET) for model folders registered at a
commit hash, answers branch names with that commit, and uses the Hub's error headers (X-Error-Code).
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class StandInHub:
    """``with StandInHub() as hub: hub.add(repo, folder, commit)``; ``hub.endpoint`` is its URL."""

    def __init__(self) -> None:
        self.repos: dict[str, dict[str, dict[str, bytes]]] = {}  # repo -> commit -> filename -> bytes
        self.branches: dict[tuple[str, str], str] = {}
        self.requests: list[str] = []
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

    def __enter__(self) -> StandInHub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
