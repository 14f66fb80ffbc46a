"""Command-line test fixtures: a fresh prediction store per test, found through MGMT_DB as the CLI finds it."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The path MGMT_DB points at for this test (the file is created by the first command that needs it)."""
    path = tmp_path / "mgmt.duckdb"
    monkeypatch.setenv("MGMT_DB", str(path))
    return path
