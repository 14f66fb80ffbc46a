"""The linked viewer figure: images at world mm, click lattices in panel order, overlays cropped, clicks to cursor."""

from __future__ import annotations

import numpy as np
import pytest

from core.figures.viewer import PLANES, cursor_caption, linked_figure, moved_cursor
from core.preprocess import Grid
from core.preprocess.display import DisplayVolumes

SEQUENCES = ("FLAIR", "T1w", "T1wCE", "T2w")


@pytest.fixture
def display() -> DisplayVolumes:
    """A 40 x 50 x 30 grid of 1 mm from (-20, -30, -10) mm, a CAM square and a label blob."""
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = [-20.0, -30.0, -10.0]
    shape = (40, 50, 30)
    images = np.random.default_rng(0).integers(0, 255, (4, *shape), dtype=np.uint8)
    cam = np.zeros(shape, np.uint8)
    cam[10:20, 5:15, :] = 255
    labels = np.zeros(shape, np.uint8)
    labels[30:35, 40:45, 10:20] = 4
    return DisplayVolumes(Grid(affine, shape), SEQUENCES, images, ((0.0, 1.0),) * 4, cam, labels,
                          (0.0, 0.0, 0.0), "tumour centre")


def test_a_click_on_an_axial_image_moves_the_coronal_and_sagittal_planes_there(display) -> None:
    axial_t1w = 1  # row 0 (axial), column 1
    moved = moved_cursor(display, (5, 6, 7), axial_t1w, x_mm=3.0, y_mm=-12.0)
    assert moved == (23, 18, 7)  # x, y at the click; z (the axial plane) kept
    assert np.allclose(display.world_of(moved), [3.0, -12.0, -3.0])


def test_a_click_on_a_sagittal_image_keeps_x_and_moves_y_and_z(display) -> None:
    sagittal_t2w = 2 * len(SEQUENCES) + 3
    assert PLANES[2].name == "sagittal"
    assert moved_cursor(display, (5, 6, 7), sagittal_t2w, x_mm=10.0, y_mm=4.0) == (5, 40, 14)


def test_a_click_off_the_lattices_leaves_the_cursor(display) -> None:
    assert moved_cursor(display, (5, 6, 7), 3 * len(SEQUENCES), 0.0, 0.0) is None


def test_the_first_traces_are_the_click_lattices_of_the_panels_in_order(display) -> None:
    figure = linked_figure(display, (5, 6, 7))
    lattices = figure.data[:3 * len(SEQUENCES)]
    assert [trace.type for trace in lattices] == ["scatter"] * 12
    assert [trace.xaxis for trace in lattices] == ["x"] + [f"x{n}" for n in range(2, 13)]
    axial = lattices[0]
    assert (min(axial.x), max(axial.x), min(axial.y), max(axial.y)) == (-20, 19, -30, 19)  # world mm


def test_images_are_placed_in_world_mm_and_cut_at_the_cursor(display) -> None:
    figure = linked_figure(display, (5, 6, 7), cam_opacity=None, label_opacity=None)
    images = [trace for trace in figure.data if trace.type == "heatmap"]
    assert len(images) == 12
    coronal_flair = images[4]
    assert (coronal_flair.x0, coronal_flair.y0, coronal_flair.dx) == (-20.0, -10.0, 1.0)  # x across, z up
    assert np.array_equal(coronal_flair.z, display.images[0][:, 6, :].T)


def test_overlays_are_cropped_to_where_they_show_and_follow_their_opacity(display) -> None:
    figure = linked_figure(display, (15, 10, 25), cam_opacity=0.3, label_opacity=0.6)
    overlays = [trace for trace in figure.data if trace.type == "heatmap" and trace.opacity is not None]
    cam = [trace for trace in overlays if trace.opacity == 0.3]
    assert len(cam) == 12  # the cursor passes through the CAM square in every plane
    axial_cam = cam[0]
    assert (axial_cam.x0, axial_cam.y0) == (-10.0, -25.0) and np.asarray(axial_cam.z).shape == (10, 10)
    assert not [trace for trace in overlays if trace.opacity == 0.6]  # the label blob is not on these planes
    through_blob = linked_figure(display, (32, 42, 15), cam_opacity=None, label_opacity=0.6)
    assert len([trace for trace in through_blob.data if trace.opacity == 0.6]) == 12


def test_the_caption_gives_the_cursor_in_world_mm_with_patient_directions(display) -> None:
    assert cursor_caption(display, (23, 18, 7)) == "x +3.0 mm (R), y -12.0 mm (P), z -3.0 mm (I)"
