"""Fixtures of the fault tests: the live app server, a small study the bundled model accepts, and its zip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.conftest import api_study  # noqa: F401  (the small study of the REST API tests, shared here)
from tests.api.uploads import study_zip
from tests.app_server import app_server  # noqa: F401  (the fixture, for the live-server modules here)


@pytest.fixture(scope="session")
def fault_zip(api_study: Path) -> bytes:  # noqa: F811  (the fixture imported above, as a parameter)
    """The study as one stored zip (under 1 MiB, so the server keeps the upload in memory until staging)."""
    data = study_zip(api_study)
    assert len(data) < 1024 * 1024
    return data
