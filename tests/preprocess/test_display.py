"""The display grid: the four sequences at their own resolution in world alignment, the overlays where the model put
them, and the caps that keep it small enough for a browser."""

from __future__ import annotations

import numpy as np
import pytest

from core import SEQUENCES
from core.ingest.study import Study, Volume
from core.preprocess import Grid, PreparedStudy, prepare
from core.preprocess.chain import SkullStripping
from core.preprocess.display import FINEST_SPACING_MM, MAX_VOXELS_PER_AXIS, display_grid, display_volumes
from core.preprocess.overlays import TumourProbabilities
from core.preprocess.settings import Preprocessing
from tests.conftest import render, series_affine

FEATURE = np.array([25.0, -20.0, 15.0])  # RAS mm: a bright ball, 30 mm across (past the window's 99.5th percentile)
CAM_PEAK = np.array([-20.5, 10.3, 5.7])  # where the synthetic Grad-CAM map peaks
TUMOUR = np.array([-30.2, -15.6, 20.4])  # centre of the synthetic segmentation
RADII = np.array([70.0, 85.0, 65.0])
PLANES = {"FLAIR": "axial", "T1w": "sagittal", "T1wCE": "coronal", "T2w": "oblique"}


def head(world: np.ndarray) -> np.ndarray:
    """An ellipsoidal 'brain' of 400 and a ball of 1500 around FEATURE."""
    inside = np.sum((world / RADII) ** 2, axis=1) <= 1.0
    return np.where(np.linalg.norm(world - FEATURE, axis=1) <= 15.0, 1500.0, np.where(inside, 400.0, 0.0))


def in_memory_study(spacing: tuple[float, float, float], shape: tuple[int, int, int], field=head) -> Study:
    """Four series in four planes; FLAIR stored as integers with a rescale (the lookup-table path)."""
    volumes = {}
    for name in SEQUENCES:
        affine = series_affine(PLANES[name], shape, spacing)
        values = render(affine, shape, 0.0, field)
        if name == "FLAIR":  # stored = (value + 100) / 2, as a scanner writes RescaleSlope 2, Intercept -100
            volumes[name] = Volume(name, np.rint((values + 100) / 2).astype(np.uint16), affine, name, "test",
                                   rescale=(2.0, -100.0))
        else:
            volumes[name] = Volume(name, values, affine, name, "test")
    return Study(volumes, "hash")


def model_grid_field(grid: Grid, function) -> np.ndarray:
    ijk = np.indices(grid.shape).reshape(3, -1).T
    return function(ijk @ grid.affine[:3, :3].T + grid.affine[:3, 3]).reshape(grid.shape)


@pytest.fixture(scope="module")
def prepared_study() -> tuple[Study, PreparedStudy]:
    study = in_memory_study(spacing=(0.9, 0.9, 3.5), shape=(200, 200, 56))
    return study, prepare(study, Preprocessing())


@pytest.fixture(scope="module")
def display(prepared_study):
    study, prepared = prepared_study
    cam = model_grid_field(prepared.grid, lambda w: np.exp(-np.sum((w - CAM_PEAK) ** 2, axis=1) / (2 * 6.0**2)))
    return display_volumes(study, prepared, cam.astype(np.float32))


def centre_mm(display, voxels: np.ndarray) -> np.ndarray:
    return display.grid.affine[:3, :3] @ np.argwhere(voxels).mean(axis=0) + display.grid.affine[:3, 3]


def test_the_grid_has_the_series_in_plane_resolution_kept_at_1_mm(display) -> None:
    assert display.spacing_mm == FINEST_SPACING_MM  # series at 0.9 mm in-plane
    assert np.allclose(display.grid.affine[:3, :3], np.eye(3))
    assert display.images.shape == (4, *display.grid.shape) and display.images.dtype == np.uint8


def test_the_grid_covers_the_head(display) -> None:
    low = display.world_of((0, 0, 0))
    high = display.world_of(tuple(n - 1 for n in display.grid.shape))
    assert np.all(low <= -RADII) and np.all(high >= RADII)
    assert np.all(low > -RADII - 20) and np.all(high < RADII + 20)


def test_a_feature_lies_at_the_same_world_mm_in_all_four_sequences(display) -> None:
    for channel, name in enumerate(display.sequences):
        bright = display.images[channel] >= 200
        assert bright.sum() > 12000, name  # the 14 ml ball at 1 mm
        assert np.linalg.norm(centre_mm(display, bright) - FEATURE) < 1.0, name


def test_the_cursor_at_a_world_point_picks_that_point_in_every_sequence(display) -> None:
    voxel = display.voxel_of(FEATURE)
    assert np.linalg.norm(display.world_of(voxel) - FEATURE) <= np.sqrt(3) / 2 * display.spacing_mm
    assert [int(image[voxel]) for image in display.images] == [255, 255, 255, 255]  # the ball, in each
    outside_ball = display.voxel_of(FEATURE + [0, 0, 20.0])
    assert all(int(image[outside_ball]) < 100 for image in display.images)  # brain, not ball


def test_the_grad_cam_peak_stays_at_its_world_position_on_the_display_grid(display) -> None:
    peak = np.unravel_index(int(np.argmax(display.cam)), display.cam.shape)
    assert np.linalg.norm(display.world_of(peak) - CAM_PEAK) < 1.5
    assert int(display.cam[display.voxel_of(CAM_PEAK)]) >= int(display.cam.max()) - 3 >= 245


def test_the_cursor_starts_at_the_grad_cam_peak_without_a_segmentation(display) -> None:
    assert display.start_from == "Grad-CAM peak"
    assert np.linalg.norm(np.array(display.start_mm) - CAM_PEAK) < 2.0  # the model grid's nearest voxel (2 mm)
    assert display.labels is None


def test_labels_land_where_the_model_put_them_and_the_cursor_starts_at_the_tumour(prepared_study) -> None:
    study, prepared = prepared_study
    distance = model_grid_field(prepared.grid, lambda w: np.linalg.norm(w - TUMOUR, axis=1))
    classes = np.select([distance <= 4.0, distance <= 12.0], [1, 2], 0)
    one_hot = np.stack([classes == channel for channel in range(4)]).astype(np.float32)
    shown = display_volumes(study, prepared, None, TumourProbabilities(one_hot, (0, 1, 2, 4)))
    assert np.linalg.norm(centre_mm(shown, shown.labels > 0) - TUMOUR) < 1.0
    assert int(shown.labels[shown.voxel_of(TUMOUR)]) == 1
    assert set(np.unique(shown.labels).tolist()) == {0, 1, 2}
    assert shown.start_from == "tumour centre" and np.linalg.norm(np.array(shown.start_mm) - TUMOUR) < 1.0
    assert shown.cam is None


def _prepared_on(grid: Grid) -> PreparedStudy:
    """A prepared study whose whole model grid is head (what ``display_grid`` reads of it)."""
    ones = np.ones((4, *grid.shape), np.float32)
    return PreparedStudy(ones, ones, np.ones(grid.shape, bool), grid, SEQUENCES,
                         SkullStripping("already stripped", "detected", "auto"))


def _study_at(spacing: tuple[float, float, float]) -> Study:
    return Study({name: Volume(name, np.zeros((2, 2, 2), np.float32), np.diag([*spacing, 1.0]), name, "test")
                  for name in SEQUENCES}, "hash")


def test_spacing_is_never_finer_than_1_mm() -> None:
    grid = display_grid(_study_at((0.3, 0.3, 0.8)), _prepared_on(Grid.centred(np.zeros(3), (3.0,) * 3, (64,) * 3)))
    assert grid.affine[0, 0] == pytest.approx(1.0)


def test_spacing_follows_the_finest_in_plane_spacing_above_1_mm() -> None:
    grid = display_grid(_study_at((1.3, 1.3, 5.0)), _prepared_on(Grid.centred(np.zeros(3), (3.0,) * 3, (64,) * 3)))
    assert grid.affine[0, 0] == pytest.approx(1.3)


def test_a_large_field_of_view_is_bounded_in_size() -> None:
    model = Grid.centred(np.zeros(3), (3.0,) * 3, (150, 150, 150))  # 450 mm of 'head'
    grid = display_grid(_study_at((0.5, 0.5, 0.5)), _prepared_on(model))
    assert max(grid.shape) <= MAX_VOXELS_PER_AXIS
    assert grid.affine[0, 0] * (max(grid.shape) - 1) >= 447.0  # coarser, still covering the head


def test_thick_slices_are_blended_between_their_centres_not_repeated() -> None:
    from core.preprocess.display import windowed_on_grid

    slices = np.broadcast_to(np.arange(5, dtype=np.float32) * 100, (8, 8, 5)).copy()  # 100 per 6 mm slice
    grid = Grid(np.eye(4), (8, 8, 25))  # 1 mm from the first slice's centre to the last one's
    levels = windowed_on_grid(slices, np.diag([1.0, 1.0, 6.0, 1.0]), (1.0, 0.0), (0.0, 400.0), grid)
    along = levels[4, 4, :].astype(int)
    assert along[0] == 0 and along[24] == 255 and along[6] == round(100 * 255 / 400)  # at the slices' centres
    assert along[3] == round(50 * 255 / 400)  # half way between the first two
    assert np.all(np.diff(along) > 0)  # a ramp, not a staircase


def test_an_oblique_series_is_sampled_at_the_nearest_voxel_as_scipy_does() -> None:
    from scipy import ndimage

    from core.preprocess.display import windowed_on_grid

    array = np.random.default_rng(1).integers(1, 256, (30, 28, 12)).astype(np.int16)  # levels = values
    affine = series_affine("oblique", array.shape, (1.7, 1.7, 4.0))
    grid = Grid(np.diag([1.3, 1.3, 1.3, 1.0]) + np.array([[0, 0, 0, -30], [0, 0, 0, -30], [0, 0, 0, -30], [0] * 4]),
                (46, 46, 46))
    ijk = (np.linalg.inv(affine) @ grid.affine)[:3] @ np.vstack([np.indices(grid.shape).reshape(3, -1),
                                                                 np.ones(np.prod(grid.shape))])
    expected = ndimage.map_coordinates(array, ijk, order=0, mode="nearest").reshape(grid.shape)
    sampled = windowed_on_grid(array, affine, (1.0, 0.0), (0.0, 255.0), grid)
    upper = np.array(array.shape)[:, None] - 0.5
    within = np.all((ijk >= -0.5) & (ijk <= upper), axis=0).reshape(grid.shape)  # nearest voxel inside the series
    assert 0.2 < within.mean() < 0.8  # the series covers part of the grid
    assert np.mean(sampled[within] == expected[within]) > 0.999  # ties at exactly half a voxel may round either way
    assert np.all(sampled[~within] == 0)
