"""A missing sequence is a blank channel of the network input; the brain mask comes from the others."""

from __future__ import annotations

from pathlib import Path

from core.ingest import load_study
from core.ingest.study import Study
from core.model.config import ModelConfig
from core.preprocess.chain import prepare

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_flair_is_a_zero_channel_and_the_brain_is_found_without_it(synthetic_case: Path) -> None:
    config = ModelConfig.read(ROOT / "weights" / "config.json").preprocessing
    full = load_study(synthetic_case)
    without = Study({k: v for k, v in full.volumes.items() if k != "FLAIR"}, full.study_hash)
    prepared, reference = prepare(without, config), prepare(full, config)
    assert without.missing == ("FLAIR",)
    assert not prepared.image[0].any() and not prepared.intensities[0].any()
    assert all(prepared.image[i].any() for i in (1, 2, 3))
    ratio = prepared.brain_mask.sum() / reference.brain_mask.sum()  # the grid centre may move by a voxel
    assert 0.95 < ratio < 1.05
