"""The OOD reference (fit, threshold, round trip) and the decision: abstain, indeterminate band, or a call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.inference.abstention import decide
from core.inference.ood import OodReference, OodScore
from core.quality.result import QualityCheck

LABELS = ("unmethylated", "methylated")
PASS = QualityCheck("brain", None, "pass", 1500.0, "The brain measures 1500 ml.")
NO_TUMOUR = QualityCheck("tumour", None, "fail", 0.0, "No tumour was found; expected a glioma of at least 3 ml.")


def _reference(seed: int = 0) -> OodReference:
    features = np.random.default_rng(seed).normal(0.0, 1.0, (400, 8))
    return OodReference.fit(features, "unet.down4")


def test_the_threshold_is_near_the_99th_percentile_of_in_distribution_distances() -> None:
    reference = _reference()
    fresh = reference.distance(np.random.default_rng(1).normal(0.0, 1.0, (4000, 8)))
    assert 0.97 <= float(np.mean(fresh <= reference.threshold)) <= 1.0
    assert reference.threshold == pytest.approx(np.sqrt(20.09), rel=0.15)  # chi-square(8) 99th percentile


def test_a_point_far_from_the_training_features_is_beyond_the_threshold() -> None:
    reference = _reference()
    score = reference.score(np.full(8, 4.0))
    assert score.beyond and score.score == pytest.approx(np.sqrt(8 * 16), rel=0.1)


def test_the_reference_round_trips_through_the_model_folder(tmp_path: Path) -> None:
    reference = _reference()
    reference.write(tmp_path)
    read = OodReference.read(tmp_path)
    assert read is not None and read.threshold == reference.threshold and read.layer == "unet.down4"
    assert np.allclose(read.reference().precision, reference.precision, rtol=1e-6)
    assert OodReference.read(tmp_path / "none") is None


def test_a_failed_check_abstains_with_its_sentence_and_keeps_no_call() -> None:
    decision = decide(0.9, (0.85, 0.95), 0.5, LABELS, (PASS, NO_TUMOUR), OodScore(3.0, 5.0))
    assert decision.abstained and decision.label == "indeterminate" and decision.reasons == (NO_TUMOUR.detail,)


def test_a_score_beyond_the_threshold_abstains_saying_by_how_much() -> None:
    decision = decide(0.9, (0.85, 0.95), 0.5, LABELS, (PASS,), OodScore(41.3, 12.0, percentile=97.5))
    assert decision.abstained and "distance 41.3, beyond the threshold 12.0" in decision.reasons[0]
    assert "that 97.5% of in-distribution cases stay under" in decision.reasons[0]  # the stored percentile


def test_an_interval_straddling_the_threshold_is_indeterminate_without_abstaining() -> None:
    decision = decide(0.55, (0.42, 0.68), 0.5, LABELS, (PASS,), OodScore(3.0, 5.0))
    assert decision.label == "indeterminate" and not decision.abstained
    assert "0.42-0.68 straddles the decision threshold 0.50" in decision.reasons[0]


def test_a_clear_interval_gives_the_label() -> None:
    assert decide(0.2, (0.1, 0.3), 0.5, LABELS, (PASS,), None).label == "unmethylated"
    assert decide(0.8, (0.7, 0.9), 0.5, LABELS, (PASS,), OodScore(3.0, 5.0)).label == "methylated"


def test_a_study_missing_a_sequence_is_measured_against_the_reference_of_its_own_pattern(tmp_path: Path) -> None:
    from core.inference.ood import OodGate

    rng = np.random.default_rng(2)
    four, without_t2w = rng.normal(0.0, 1.0, (300, 8)), rng.normal(5.0, 1.0, (300, 8))
    OodGate({(): OodReference.fit(four, "unet.down4"), ("T2w",): OodReference.fit(without_t2w, "unet.down4")}
            ).write(tmp_path)
    gate = OodReference.read(tmp_path)
    study = np.full(8, 5.0)  # what the network makes of a study without T2w
    assert not gate.score(study, ("T2w",)).beyond and gate.score(study, ("T2w",)).missing == ("T2w",)
    assert gate.score(study).beyond  # against the four-sequence reference it looks foreign
    assert gate.score(np.zeros(8), ("FLAIR",)).missing == ()  # no FLAIR reference: the four-sequence one
