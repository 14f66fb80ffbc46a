"""Decisions at a threshold do not flip on floating-point noise (the thread count changes the OOD distance in its
7th digit, and a value within 1e-6 (relative) of a threshold counts as at it), nor on other studies scored at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from core.inference import Predictor
from core.inference.abstention import decide
from core.inference.ood import OodScore
from core.inference.tolerance import DECISION_TOLERANCE, beyond, reaches
from core.ingest import load_study

ALONE, LOADED = 10.214733612936426, 10.214731624323136
"""The OOD distance of the synthetic test study with two torch threads (alone) and one (under load), measured with
the bundled weights of before the recalibration (the pair of figures the band must absorb)."""
LABELS = ("unmethylated", "methylated")


def test_a_distance_on_the_threshold_is_not_beyond_it_whatever_the_thread_count() -> None:
    assert not OodScore(ALONE, threshold=LOADED).beyond
    assert not OodScore(LOADED, threshold=ALONE).beyond


def test_a_distance_clearly_past_the_threshold_is_beyond_it() -> None:
    assert OodScore(LOADED * (1 + 10 * DECISION_TOLERANCE), threshold=LOADED).beyond


def test_a_probability_within_the_tolerance_of_the_threshold_reaches_it() -> None:
    assert reaches(0.5 - 1e-8, 0.5) and not reaches(0.5 - 1e-5, 0.5)
    assert not beyond(0.5 + 1e-8, 0.5) and beyond(0.5 + 1e-5, 0.5)


def test_the_label_at_the_threshold_is_the_same_either_side_of_the_noise() -> None:
    below, above = (decide(p, (0.6, 0.9), 0.5, LABELS, [], None).label for p in (0.5 - 1e-8, 0.5 + 1e-8))
    assert below == above == "methylated"


@pytest.fixture
def threads_restored():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_and_two_threads_differ_by_less_than_the_tolerance(synthetic_case: Path, threads_restored) -> None:
    predictor, study = Predictor.load(), load_study(synthetic_case)
    scored = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        scored.append(predictor.predict(study, with_cam=False).result)
    (one, two) = scored
    assert one.label == two.label and one.abstained == two.abstained
    assert abs(one.probability - two.probability) <= DECISION_TOLERANCE * one.probability
    if one.ood is not None:
        assert abs(one.ood.score - two.ood.score) <= DECISION_TOLERANCE * one.ood.threshold


def test_studies_scored_at_once_keep_their_own_ood_distance(synthetic_case: Path, threads_restored) -> None:
    predictor, study = Predictor.load(), load_study(synthetic_case)
    torch.set_num_threads(1)
    alone = predictor.predict(study, with_cam=True).result
    scored: list = []

    def score() -> None:
        torch.set_num_threads(1)
        scored.extend(predictor.predict(study, with_cam=True).result for _ in range(2))

    workers = [threading.Thread(target=score) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(600)
    assert len(scored) == 6
    assert {(p.label, p.abstained, p.reasons) for p in scored} == {(alone.label, alone.abstained, alone.reasons)}
    if alone.ood is not None:
        assert {p.ood.score for p in scored} == {alone.ood.score}  # one thread each: the same figure exactly
