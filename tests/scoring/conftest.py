"""Scoring fixtures: a small synthetic cohort with one broken case, and one local Ray per test module (stopped after
it, so its processes do not linger through the rest of the suite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_cohort_with_a_broken_case


@pytest.fixture(scope="session")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four synthetic cases plus a labelled fifth whose folder holds no image."""
    return write_cohort_with_a_broken_case(tmp_path_factory.mktemp("scoring") / "site-c")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A local Ray with 2 CPUs, as ``batch --engine ray`` starts it; the engine uses it instead of its own."""
    pytest.importorskip("ray", reason="ray (requirements-scale.txt) is not installed")
    from core.scoring.ray_cluster import start_local

    ray = start_local(2)
    try:
        yield ray
    finally:
        ray.shutdown()
