"""The REST API under mutated uploads: 400/413 with a JSON error (or 200 for harmless damage), never a 500 or a hang.

The uploads are the first ``FUZZ_API_MUTANTS`` mutants of tests/ingest/test_fuzz.py (same ``FUZZ_SEED``, same
recipes), sent as a zip or as files named by relative path; afterwards the app still answers ``/api/health`` and has
kept nothing of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import requests

from tests.app_server import AppServer
from tests.ingest.test_fuzz import SEED, mutants

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]
API_MUTANTS = int(os.environ.get("FUZZ_API_MUTANTS", "30"))
REQUEST_TIMEOUT_S = 120.0


def test_mutated_uploads_get_4xx_json_never_500_or_a_hang(app_server: AppServer, bases: dict[str, Path],
                                                          tmp_path: Path) -> None:
    assert app_server.wait_for_model()["status"] == "ok"
    before = app_server.tmp_entries()
    failures, statuses = [], []
    for mutant in mutants(SEED, API_MUTANTS, bases, tmp_path):
        try:
            answer = requests.post(f"{app_server.url}/api/predict", files=mutant.upload(), timeout=REQUEST_TIMEOUT_S)
        except requests.Timeout:
            failures.append(f"{mutant}\n  no answer within {REQUEST_TIMEOUT_S:.0f} s")
            continue
        statuses.append(answer.status_code)
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        if answer.status_code == 200 and "probability" in body:
            continue
        if answer.status_code not in (400, 413) or not str(body.get("error", "")).strip():
            failures.append(f"{mutant}\n  {answer.status_code}: {answer.text[:500]}")
    print(f"fuzz seed {SEED}: {API_MUTANTS} uploads answered {sorted(statuses)}")
    assert not failures, (f"FUZZ_SEED={SEED}: {len(failures)} bad answer(s):\n" + "\n".join(failures)
                          + f"\nserver log:\n{app_server.log_tail()}")
    health = requests.get(f"{app_server.url}/api/health", timeout=30)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert app_server.tmp_entries() == before
