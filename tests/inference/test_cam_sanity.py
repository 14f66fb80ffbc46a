"""Grad-CAM passes the model-randomisation sanity check: the trained model's map is not the random network's."""

from __future__ import annotations

from pathlib import Path

from core.inference import Predictor
from core.inference.cam_sanity import map_rank_correlation, randomised_copy
from core.ingest import load_study

MAX_RANK_CORRELATION = 0.5
"""Maps that explain the trained model correlate with the randomised network's far less than this (measured on
the shared case: see benchmarks/abstention.py --cam)."""


def test_the_trained_map_differs_from_the_randomised_networks_map(synthetic_case: Path) -> None:
    trained = Predictor.load()
    study = load_study(synthetic_case)
    ours = trained.predict(study)
    random = Predictor(randomised_copy(trained.model), trained.source).predict(study)
    correlation = map_rank_correlation(ours.artefacts.cam, random.artefacts.cam, ours.artefacts.prepared.brain_mask)
    assert -1.0 <= correlation < MAX_RANK_CORRELATION
