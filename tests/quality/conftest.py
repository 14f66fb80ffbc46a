"""The shared synthetic case, loaded and prepared once for the quality checks' tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.ingest import load_study
from core.ingest.study import Study
from core.model.config import ModelConfig
from core.preprocess.chain import PreparedStudy, prepare

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def preprocessing():
    return ModelConfig.read(ROOT / "weights" / "config.json").preprocessing


@pytest.fixture(scope="session")
def loaded(synthetic_case: Path) -> Study:
    return load_study(synthetic_case)


@pytest.fixture(scope="session")
def prepared(loaded: Study, preprocessing) -> PreparedStudy:
    return prepare(loaded, preprocessing)


def exchanged(study: Study, first: str, second: str) -> Study:
    """The study with two sequences' series exchanged (as if their folders had been swapped)."""
    volumes = dict(study.volumes)
    volumes[first] = dataclasses.replace(study[second], sequence=first)
    volumes[second] = dataclasses.replace(study[first], sequence=second)
    return Study({name: volumes[name] for name in study.volumes}, study.study_hash)
