"""A real, throw-away PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` from Debian's ``postgresql`` package.

The cluster lives in a temporary folder under /tmp owned by the ``postgres`` system user (PostgreSQL refuses to run
as root, and pytest's own temporary folders are private to root), listens on a free port of 127.0.0.1 and on a
unix socket in that folder, with fsync off (it is thrown away), and is removed afterwards. Tests get one fresh
database each (``CREATE DATABASE`` is a cheap copy of the template).

Use the fixtures (import them into a conftest.py)::

    def test_something(postgres_database: str) -> None:
        store = Store(postgres_database)  # postgresql://postgres@/test_1?host=/tmp/mgmt-pg-...&port=...
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.app_server import free_port

SUPERUSER = "postgres"


def server_binaries() -> Path | None:
    """The folder of initdb and pg_ctl: Debian's newest /usr/lib/postgresql/<version>/bin, else the PATH's."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda found: int(found.parts[-3]) if found.parts[-3].isdigit() else 0)
    if versions:
        return versions[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_postgres(command: list[str]) -> list[str]:
    """The command run as the postgres system user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", SUPERUSER, "--", *command] if os.geteuid() == 0 else command


@dataclass
class PostgresCluster:
    """One running throw-away cluster: its folder (data, socket, log), port and binaries."""

    folder: Path
    port: int
    binaries: Path
    _databases: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        """The URL of one database over the unix socket in the cluster's folder."""
        return f"postgresql://{SUPERUSER}@/{database}?host={self.folder}&port={self.port}"

    def _pg_ctl(self, *arguments: str) -> None:
        subprocess.run(_as_postgres([str(self.binaries / "pg_ctl"), "-D", str(self.data), *arguments]),
                       check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        self._pg_ctl("-o", options, "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends the sessions and shuts down cleanly, ``immediate`` just quits."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"test_{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def start_cluster() -> PostgresCluster:
    """initdb a cluster in a new folder under /tmp owned by postgres, and start it; skip without the binaries."""
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package")
    pytest.importorskip("psycopg", reason="psycopg (requirements-scale.txt) is not installed")
    folder = Path(tempfile.mkdtemp(prefix="mgmt-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(folder, SUPERUSER, SUPERUSER)
    subprocess.run(_as_postgres([str(binaries / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER,
                                 "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]),
                   check=True, capture_output=True, timeout=120)
    cluster = PostgresCluster(folder=folder, port=free_port(), binaries=binaries)
    cluster.start()
    return cluster


def remove_cluster(cluster: PostgresCluster) -> None:
    """Stop the server (if it still runs) and delete its folder."""
    try:
        cluster.stop("immediate")
    except subprocess.CalledProcessError:
        pass  # already stopped
    shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the whole test session."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


@pytest.fixture
def postgres_database(postgres_cluster: PostgresCluster) -> str:
    """The URL of a fresh database on the session's server."""
    return postgres_cluster.new_database()
