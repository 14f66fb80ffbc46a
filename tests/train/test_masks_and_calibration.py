"""Label maps (both namings, nearest-neighbour onto the grid), sequence dropout, Platt calibration and ECE."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from core.errors import InputError
from core.preprocess import Grid
from core.train.augment import sequence_dropout
from core.train.calibration import apply_calibration, expected_calibration_error, fit_platt
from core.train.masks import channel_labels, label_channels, mask_on_grid, mask_path, read_mask, region_dice


def _write(path: Path, labels: np.ndarray, affine: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(labels, affine), path)
    return path


@pytest.mark.parametrize("name", ["00012_seg.nii.gz", "BraTS2021_00012_seg.nii.gz",
                                  "BraTS2021_00012/BraTS2021_00012_seg.nii.gz"])
def test_mask_path_accepts_the_synth_and_brats_2021_names(tmp_path: Path, name: str) -> None:
    written = _write(tmp_path / name, np.zeros((4, 4, 4), np.uint8), np.eye(4))
    assert mask_path(tmp_path, "00012") == written
    assert mask_path(tmp_path, "00013") is None


def test_mask_on_grid_is_nearest_neighbour_through_world_coordinates(tmp_path: Path) -> None:
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[8:12, 8:12, 8:12] = 4  # a 4 mm cube of enhancing tumour at 1 mm voxels
    labels[9:11, 9:11, 9:11] = 1
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-10, -10, -10]  # voxel (10, 10, 10) at the world origin
    path = _write(tmp_path / "00001_seg.nii.gz", labels, affine)
    grid = Grid.centred(np.zeros(3), (2.0, 2.0, 2.0), (10, 10, 10))
    on_grid = mask_on_grid(path, grid)
    assert set(np.unique(on_grid)) == {0, 1, 4}  # no interpolated values in between
    assert int((on_grid > 0).sum()) == 8  # 64 mm^3 of tumour = 8 voxels of 8 mm^3
    world = grid.affine[:3, :3] @ np.argwhere(on_grid > 0).mean(axis=0) + grid.affine[:3, 3]
    assert np.allclose(world, [-0.5, -0.5, -0.5], atol=1.01)


def test_brats_2023_enhancing_value_3_is_read_as_4_and_other_values_are_refused(tmp_path: Path) -> None:
    labels = np.zeros((4, 4, 4), np.uint8)
    labels[0, 0, 0] = 3
    assert read_mask(_write(tmp_path / "a_seg.nii.gz", labels, np.eye(4))).array[0, 0, 0] == 4
    labels[1, 1, 1] = 7
    with pytest.raises(InputError, match="b_seg.nii.gz.*values \\[0, 3, 7\\]"):
        read_mask(_write(tmp_path / "b_seg.nii.gz", labels, np.eye(4)))


def test_label_channels_round_trip_brats_values() -> None:
    labels = np.array([0, 1, 2, 4], np.uint8)
    assert label_channels(labels).tolist() == [0, 1, 2, 3]
    assert channel_labels(label_channels(labels)).tolist() == [0, 1, 2, 4]


def test_region_dice_of_known_overlaps() -> None:
    truth = np.zeros(10, np.uint8)
    truth[:4] = 4
    predicted = np.zeros(10, np.uint8)
    predicted[2:6] = 4
    predicted[6] = 2
    dice = region_dice(predicted, truth)
    assert dice["enhancing"] == pytest.approx(2 * 2 / 8)
    assert dice["whole"] == pytest.approx(2 * 2 / 9)
    assert dice["necrotic"] == 1.0  # empty in both


def test_tumour_core_dice_scores_necrotic_and_enhancing_as_one_region() -> None:
    truth = np.array([1, 1, 4, 4, 2, 2, 0, 0], np.uint8)
    predicted = np.array([4, 4, 1, 2, 2, 0, 0, 0], np.uint8)  # core swapped inside itself, one enhancing as oedema
    dice = region_dice(predicted, truth)
    assert dice["core"] == pytest.approx(2 * 3 / 7)  # 3 core voxels in both, 4 + 3 in all
    assert dice["necrotic"] == pytest.approx(0.0) and dice["enhancing"] == pytest.approx(0.0)
    assert dice["whole"] == pytest.approx(2 * 5 / 11)
    assert dice["oedema"] == pytest.approx(2 * 1 / 4)
    assert list(dice) == ["whole", "core", "enhancing", "necrotic", "oedema"]


def test_sequence_dropout_blanks_one_or_two_channels_and_keeps_one() -> None:
    rng = np.random.default_rng(0)
    draws = np.stack([sequence_dropout(rng, 4, 0.5) for _ in range(2000)])
    missing = 4 - draws.sum(axis=1)
    assert set(np.unique(missing)) == {0, 1, 2}
    assert 0.45 < (missing > 0).mean() < 0.55
    assert sequence_dropout(rng, 1, 1.0).tolist() == [1.0]


def test_platt_calibration_recovers_a_known_map() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, 20000)
    labels = (rng.random(20000) < 1 / (1 + np.exp(-(0.5 * logits - 0.4)))).astype(int)  # true map 0.5 z - 0.4
    calibration = fit_platt(logits, labels)
    assert calibration["slope"] == pytest.approx(0.5, abs=0.03)
    assert calibration["intercept"] == pytest.approx(-0.4, abs=0.05)
    assert apply_calibration(np.array([0.0]), calibration)[0] == pytest.approx(1 / (1 + np.exp(0.4)), abs=0.02)


def test_expected_calibration_error_of_known_bins() -> None:
    probabilities = np.array([0.05, 0.05, 0.95, 0.95])
    assert expected_calibration_error(np.array([0, 0, 1, 1]), probabilities) == pytest.approx(0.05)
    assert expected_calibration_error(np.array([1, 1, 0, 0]), probabilities) == pytest.approx(0.95)


def test_platt_on_logits_without_signal_keeps_a_positive_slope() -> None:
    labels = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    calibration = fit_platt(np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0, 1.0]), labels)  # ranks them backwards
    assert calibration["slope"] == 1e-3 and "no signal" in calibration["fitted_on"]


def test_cross_fitted_calibration_maps_each_fold_by_a_fit_on_the_other_folds() -> None:
    from core.train.calibration import cross_fitted

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 90)
    logits = 0.2 * (2 * labels - 1) + rng.normal(0, 0.3, 90)
    folds = np.arange(90) % 3
    fitted = cross_fitted(logits, labels, folds)
    rest = folds != 1
    expected = apply_calibration(logits[folds == 1], fit_platt(logits[rest], labels[rest]))
    np.testing.assert_allclose(fitted[folds == 1], expected)
    assert not np.allclose(fitted, apply_calibration(logits, fit_platt(logits, labels)))  # not the in-sample map
