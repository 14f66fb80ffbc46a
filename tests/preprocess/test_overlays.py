"""The overlays on the display grid: the tumour labels taken from upsampled probabilities follow the tumour's true
outline at display resolution, where the model grid's label map brought over by nearest voxel is made of cubes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.preprocess import Grid
from core.preprocess.display import display_volumes
from core.preprocess.overlays import TumourProbabilities, labels_on_grid
from tests.preprocess.test_display import _prepared_on, _study_at, model_grid_field

CENTRE = np.array([-10.4, 7.7, 3.2])  # RAS mm, off the model grid's voxel centres
RADIUS_MM = 14.3  # the whole tumour: a ball
CORE_MM = 6.0  # the necrotic core inside it
MODEL = Grid.centred(np.zeros(3), (3.0,) * 3, (40,) * 3)  # 3 mm, as the bundled model's grid


def soft_ball(grid: Grid) -> TumourProbabilities:
    """A segmentation's softmax around a ball: probabilities fall off over ~2 mm at each true surface."""
    distance = model_grid_field(grid, lambda w: np.linalg.norm(w - CENTRE, axis=1))
    whole = 1 / (1 + np.exp((distance - RADIUS_MM) / 2.0))
    necrotic = whole / (1 + np.exp((distance - CORE_MM) / 2.0))
    return TumourProbabilities(np.stack([1 - whole, necrotic, whole - necrotic, np.zeros_like(whole)]),
                               (0, 1, 2, 4))


def distance_on(grid: Grid) -> np.ndarray:
    """Distance (mm) of every voxel centre of ``grid`` from the ball's centre."""
    ijk = np.indices(grid.shape).reshape(3, -1).T
    return np.linalg.norm(ijk @ grid.affine[:3, :3].T + grid.affine[:3, 3] - CENTRE, axis=1).reshape(grid.shape)


def nearest_voxel_labels(labels: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """The model grid's label map on ``target`` by nearest voxel (what the viewer drew before)."""
    ijk = np.indices(target.shape).reshape(3, -1)
    to_source = np.linalg.inv(source.affine) @ target.affine
    picked = np.rint(to_source[:3, :3] @ ijk + to_source[:3, 3:4]).astype(int)
    return labels[tuple(np.clip(picked, 0, np.array(source.shape)[:, None] - 1))].reshape(target.shape)


def outline_error_mm(shown: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """How far each voxel on the outline of the shown whole tumour lies from the true surface (mm)."""
    tumour = shown > 0
    outline = tumour & ~ndimage.binary_erosion(tumour)
    return np.abs(distance[outline] - RADIUS_MM)


@pytest.fixture(scope="module")
def shown():
    return display_volumes(_study_at((1.0, 1.0, 1.0)), _prepared_on(MODEL), None, soft_ball(MODEL))


def test_the_outline_stays_within_a_display_voxel_of_the_true_surface_where_nearest_voxel_strays_3_mm(shown) -> None:
    assert shown.spacing_mm == 1.0
    distance = distance_on(shown.grid)
    nearest = nearest_voxel_labels(soft_ball(MODEL).labels(), MODEL, shown.grid)
    assert outline_error_mm(shown.labels, distance).max() < 1.5  # measured 1.15 mm
    assert outline_error_mm(nearest, distance).max() > 2.5  # measured 2.99 mm: the model grid's 3 mm cubes


def test_the_smooth_overlay_misplaces_under_a_third_of_the_voxels_nearest_voxel_does(shown) -> None:
    truth = distance_on(shown.grid) <= RADIUS_MM
    nearest = nearest_voxel_labels(soft_ball(MODEL).labels(), MODEL, shown.grid)
    assert ((shown.labels > 0) ^ truth).sum() < ((nearest > 0) ^ truth).sum() / 3  # measured 402 against 1,907


def test_the_sub_regions_are_taken_on_the_display_grid_too(shown) -> None:
    distance = distance_on(shown.grid)
    assert set(np.unique(shown.labels).tolist()) == {0, 1, 2}
    assert np.all(shown.labels[distance <= CORE_MM - 1.5] == 1)
    assert np.all(shown.labels[(distance >= CORE_MM + 1.5) & (distance <= RADIUS_MM - 1.5)] == 2)


def test_labels_are_computed_only_near_the_tumour_and_match_the_whole_grid_computation() -> None:
    tumour = soft_ball(MODEL)
    target = Grid.centred(np.zeros(3), (1.0,) * 3, (121,) * 3)
    everywhere = np.argmax(np.stack([_upsampled(channel, target) for channel in tumour.probabilities]), axis=0)
    expected = np.asarray(tumour.values, np.uint8)[everywhere]
    assert np.array_equal(labels_on_grid(tumour, MODEL, target), expected)


def test_no_tumour_on_the_model_grid_gives_an_empty_overlay() -> None:
    empty = TumourProbabilities(np.stack([np.ones(MODEL.shape), *[np.zeros(MODEL.shape)] * 3]), (0, 1, 2, 4))
    assert not labels_on_grid(empty, MODEL, Grid.centred(np.zeros(3), (1.0,) * 3, (50,) * 3)).any()


def _upsampled(channel: np.ndarray, target: Grid) -> np.ndarray:
    """scipy's trilinear interpolation of a model-grid channel at ``target``'s voxel centres."""
    ijk = np.indices(target.shape).reshape(3, -1)
    to_source = np.linalg.inv(MODEL.affine) @ target.affine
    return ndimage.map_coordinates(channel, to_source[:3, :3] @ ijk + to_source[:3, 3:4], order=1,
                                   mode="nearest").reshape(target.shape)
