"""The chain puts all four sequences on one grid through world coordinates, masks and normalises them."""

from __future__ import annotations

import numpy as np
import pytest

from core.ingest import load_study
from core.preprocess import prepare
from core.preprocess.settings import Preprocessing
from tests.conftest import write_study

FEATURE = np.array([25.0, -20.0, 15.0])  # RAS mm
RADII = np.array([70.0, 85.0, 65.0])


def head_with_feature(world: np.ndarray) -> np.ndarray:
    """An ellipsoidal 'brain' (400, with a darker 6 mm 'cortex' of 200) and a bright 8 mm ball at FEATURE."""
    radius = np.sqrt(np.sum((world / RADII) ** 2, axis=1))
    tissue = np.where(radius <= 1.0, np.where(radius > 1.0 - 6.0 / RADII.min(), 200.0, 400.0), 0.0)
    ball = np.linalg.norm(world - FEATURE, axis=1) <= 8.0
    return np.where(ball, 1500.0, tissue)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("study") / "case"
    write_study(root, planes={"FLAIR": "axial", "T1w": "sagittal", "T1wCE": "coronal", "T2w": "oblique"},
                shape=(84, 84, 56), spacing=(2.4, 2.4, 3.5), rescale=(1.0, 0.0), field=head_with_feature)
    return prepare(load_study(root), Preprocessing())


def test_a_planted_feature_lands_at_the_same_world_position_in_every_sequence(prepared) -> None:
    grid = prepared.grid
    for channel, name in enumerate(prepared.sequences):
        bright = np.argwhere(prepared.intensities[channel] > 1000)
        assert len(bright) > 20, name
        centre = grid.affine[:3, :3] @ bright.mean(axis=0) + grid.affine[:3, 3]
        assert np.linalg.norm(centre - FEATURE) < 1.5, (name, centre)


def test_grid_is_ras_at_the_configured_spacing_and_shape(prepared) -> None:
    assert prepared.grid.shape == (96, 96, 96)
    assert np.allclose(prepared.grid.affine[:3, :3], np.diag([2.0, 2.0, 2.0]))
    assert prepared.image.shape == (4, 96, 96, 96) and prepared.image.dtype == np.float32


def test_brain_mask_matches_the_head_volume_and_normalisation_is_zscore(prepared) -> None:
    expected_ml = 4 / 3 * np.pi * np.prod(RADII) / 1000
    measured_ml = prepared.brain_mask.sum() * 8 / 1000
    assert measured_ml == pytest.approx(expected_ml, rel=0.08)
    assert prepared.skull.action == "already stripped"
    for channel in prepared.image:
        inside = channel[prepared.brain_mask]
        assert abs(float(inside.mean())) < 1e-3 and float(inside.std()) == pytest.approx(1.0, abs=1e-3)
        assert np.all(channel[~prepared.brain_mask] == 0)

