"""Each series gets its own plane, grid, rescale and noise, and samples the head at the right world places."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core import SEQUENCES
from core.ingest.geometry import acquisition_plane, voxel_spacing, world_of_voxels
from core.synth.acquisition import RSNA_SLICES, acquire, bias_field, plan_series


@pytest.fixture(scope="module")
def plans() -> list:
    rng = np.random.default_rng(0)
    return [plan_series(rng, sequence, "small", np.zeros(3)) for _ in range(100) for sequence in SEQUENCES]


def test_planes_are_what_ingest_will_call_them(plans) -> None:
    assert all(acquisition_plane(plan.affine) == plan.plane for plan in plans)
    planes = [plan.plane for plan in plans]
    assert {"axial", "sagittal", "coronal", "oblique"} == set(planes)
    assert 0.15 < planes.count("oblique") / len(planes) < 0.35


def test_series_differ_in_pixel_spacing_thickness_and_rescale(plans) -> None:
    spacings = np.array([voxel_spacing(plan.affine) for plan in plans])
    assert np.allclose(spacings[:, 0], spacings[:, 1])  # square pixels
    assert len(np.unique(spacings[:, 0].round(3))) > 50 and len(np.unique(spacings[:, 2].round(3))) > 50
    assert len({plan.rescale for plan in plans}) > 1 and len({plan.order for plan in plans}) == 4


def test_rsna_size_is_that_of_case_00000() -> None:
    rng = np.random.default_rng(1)
    shapes = {sequence: plan_series(rng, sequence, "rsna", np.zeros(3)).shape for sequence in SEQUENCES}
    assert shapes == {sequence: (512, 512, RSNA_SLICES[sequence]) for sequence in SEQUENCES}
    assert RSNA_SLICES == {"FLAIR": 400, "T1w": 33, "T1wCE": 129, "T2w": 408}


def test_series_are_centred_on_the_given_point(plans) -> None:
    centre = np.array([3.0, -20.0, 15.0])
    plan = plan_series(np.random.default_rng(2), "T1w", "small", centre)
    middle = (np.asarray(plan.shape) - 1) / 2.0
    assert np.allclose(world_of_voxels(plan.affine, middle)[0], centre)


def test_acquire_puts_a_bright_cube_where_it_is_in_the_world() -> None:
    reference = np.diag([2.0, 2.0, 2.0, 1.0])
    reference[:3, 3] = -60.0
    image = np.zeros((61, 61, 61), np.float32)
    image[40:46, 20:26, 30:36] = 1000.0  # voxels 40-45 etc.: centre at world (25, -15, 5) mm
    rng = np.random.default_rng(4)
    for sequence in SEQUENCES:
        plan = replace(plan_series(rng, sequence, "small", np.zeros(3)), noise=0.0)
        volume = acquire(rng, image, reference, plan)
        assert volume.shape == plan.shape
        bright = np.argwhere(volume > 300.0)
        centre = world_of_voxels(plan.affine, bright).mean(axis=0)
        assert np.allclose(centre, [25.0, -15.0, 5.0], atol=max(voxel_spacing(plan.affine)) / 2), plan.plane


def test_noise_has_the_planned_level_and_the_bias_field_is_smooth() -> None:
    reference = np.eye(4)
    reference[:3, 3] = -50.0
    image = np.full((101, 101, 101), 500.0, np.float32)
    rng = np.random.default_rng(6)
    plan = replace(plan_series(rng, "FLAIR", "small", np.zeros(3)), noise=0.02)
    volume = acquire(rng, image, reference, plan)
    field = bias_field(np.random.default_rng(8), image.shape, reference)
    assert 0.6 < field.min() < field.max() < 1.4
    assert np.abs(np.diff(field, axis=0)).max() < 0.01  # under 1% per millimetre
    i, j, k = (n // 2 for n in volume.shape)
    neighbours = np.diff(volume[i - 5:i + 5, j - 5:j + 5, k - 3:k + 3], axis=0)  # the smooth bias cancels
    assert neighbours.std() / np.sqrt(2) == pytest.approx(0.02 * 900.0, rel=0.1)


def test_background_noise_is_rayleigh_as_in_magnitude_images() -> None:
    rng = np.random.default_rng(9)
    plan = replace(plan_series(rng, "T2w", "small", np.zeros(3)), noise=0.03)
    volume = acquire(rng, np.zeros((20, 20, 20), np.float32), np.eye(4), plan)
    sigma = 0.03 * 900.0
    assert np.all(volume >= 0)
    assert volume.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.02)
