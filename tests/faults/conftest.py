"""Fixtures of the fault tests: the live app server, a small study the bundled model accepts, and its zip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.uploads import study_zip


@pytest.fixture(scope="session")
def fault_zip(synthetic_case: Path) -> bytes:
    """The study as one stored zip (under 1 MiB, so the server keeps the upload in memory until staging)."""
    data = study_zip(synthetic_case)
    assert len(data) < 1024 * 1024
    return data
