"""The PDF's key slices show what the page's viewer shows: the same display window, through the point the viewer
starts at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.ingest import load_study
from core.preprocess.display import DisplayVolumes, display_volumes, stored_window
from core.preprocess.overlays import TumourProbabilities
from core.regions import LABELS
from core.report.slices import key_point, key_slices
from core.service import Outcome


@pytest.fixture(scope="module")
def page_display(outcome: Outcome, dicom_case: Path) -> DisplayVolumes:
    """What the Predict page's viewer gets for the same prediction."""
    artefacts = outcome.prediction.artefacts
    values = (0, *(label.value for label in LABELS))
    one_hot = np.stack([artefacts.segmentation == value for value in values]).astype(np.float32)
    return display_volumes(load_study(dicom_case), artefacts.prepared, artefacts.cam,
                           TumourProbabilities(one_hot, values))


def test_the_key_slices_use_the_pages_display_window(outcome: Outcome, page_display: DisplayVolumes,
                                                     dicom_case: Path) -> None:
    """The PDF windows the model grid's intensities (relative to the series' background); the page windows the
    series' stored intensities: the same window, shifted by the series' background level."""
    prepared = outcome.prediction.artefacts.prepared
    sequence, planes = key_slices(prepared.intensities, prepared.sequences, prepared.grid.affine, None, None,
                                  (32, 32, 32))
    window = page_display.windows[prepared.sequences.index(sequence)]
    assert window != (0.0, 1.0) and window[1] > window[0]  # a real window, not the one of an empty volume
    study = load_study(dicom_case)
    assert all(stored_window(study, sequence, plane.window) == pytest.approx(window, rel=1e-6) for plane in planes)


def test_the_key_slices_go_through_the_point_the_viewer_starts_at(outcome: Outcome,
                                                                 page_display: DisplayVolumes) -> None:
    artefacts = outcome.prediction.artefacts
    grid = artefacts.prepared.grid
    point, what = key_point(grid.affine, grid.shape, artefacts.cam, artefacts.prepared.brain_mask,
                            tuple(outcome.report["tumour"]["centre_mm"]))
    assert what == page_display.start_from
    world = grid.affine[:3, :3] @ np.asarray(point, float) + grid.affine[:3, 3]
    assert np.linalg.norm(world - page_display.start_mm) <= np.sqrt(3) / 2 * grid.affine[0, 0] + 0.01
