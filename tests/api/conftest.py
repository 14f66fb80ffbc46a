"""Fixtures of the REST API tests: the live app server and a small study the bundled model accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.synth.cohort import write_case
from tests.app_server import app_server  # noqa: F401  (the fixture, shared by the live-server modules here)


@pytest.fixture(scope="session")
def api_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic RSNA-layout study (``<case>/{FLAIR,T1w,T1wCE,T2w}/Image-N.dcm``)."""
    out = tmp_path_factory.mktemp("api-cohort")
    truth = write_case(out, 3, seed=5)
    return out / "train" / truth.case_id
