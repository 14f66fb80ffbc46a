"""A study's voxels are bounded before any series is read (MGMT_MAX_STUDY_VOXELS), with defaults that follow from
the slot's memory and still take an RSNA-size study; the worst gzipped NIfTI study they accept is read within it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from core.admission import STUDY_BUDGET_BYTES
from core.config import get_settings
from core.errors import UploadTooLarge
from core.ingest import load_study
from core.ingest.study_size import check_study_size
from tests.ingest.nifti_bombs import measure_reading, write_nifti_study

MiB = 1024**2
RSNA_SHAPES = {"FLAIR": (512, 512, 400), "T1w": (512, 512, 33), "T1wCE": (512, 512, 129), "T2w": (512, 512, 408)}
"""RSNA case 00000 (``python -m core synth --size rsna`` writes one of these shapes)."""


def test_the_default_limits_follow_from_the_memory_of_a_slot() -> None:
    settings = get_settings()
    assert settings.max_study_voxels * 4 == STUDY_BUDGET_BYTES  # float32: the slot's 1 GiB
    assert settings.max_voxels * 2 == settings.max_study_voxels


def test_an_rsna_size_study_is_within_the_default_limits() -> None:
    settings = get_settings()
    check_study_size(RSNA_SHAPES, "00000", settings)  # 254,279,680 voxels of 268,435,456
    assert max(int(np.prod(shape)) for shape in RSNA_SHAPES.values()) <= settings.max_voxels


def test_the_issues_four_volumes_within_the_old_per_sequence_limit_are_refused_together() -> None:
    shapes = {name: (2048, 2048, 71) for name in RSNA_SHAPES}
    with pytest.raises(UploadTooLarge, match=r"'bomb' holds 1,191,182,336 voxels \(FLAIR 2048 x 2048 x 71, .*\); "
                                             r"expected at most 268,435,456 for one study \(MGMT_MAX_STUDY_VOXELS"):
        check_study_size(shapes, "bomb", get_settings())


def test_a_nifti_study_over_the_study_limit_is_refused_from_its_headers(tmp_path: Path) -> None:
    write_nifti_study(tmp_path / "case", {name: (64, 64, 32) for name in RSNA_SHAPES})
    settings = dataclasses.replace(get_settings(), max_study_voxels=300_000)
    with pytest.raises(UploadTooLarge, match="'case' holds 524,288 voxels"):
        load_study(tmp_path / "case", settings)


def test_a_dicom_study_over_the_study_limit_is_refused_from_its_headers(synthetic_case: Path) -> None:
    settings = dataclasses.replace(get_settings(), max_study_voxels=1000)
    with pytest.raises(UploadTooLarge, match=f"'{synthetic_case.name}' holds [0-9,]+ voxels \\(FLAIR "):
        load_study(synthetic_case, settings)


@pytest.mark.slow
def test_the_worst_gzipped_nifti_study_the_defaults_accept_is_read_within_the_slot(tmp_path: Path) -> None:
    shapes = {"FLAIR": (2048, 2048, 32), "T2w": (2048, 2048, 32)}  # each at MGMT_MAX_VOXELS, both at the study's
    sent = write_nifti_study(tmp_path / "case", shapes)
    measured = measure_reading(tmp_path / "case")
    assert sent < 8 * MiB  # a few megabytes on the wire, 1 GiB of voxels
    assert measured["outcome"] == "loaded FLAIR float32, T2w float32"
    held = get_settings().max_study_voxels * 4
    assert measured["peak"] - measured["before"] <= held + 128 * MiB  # measured: +1,089 MiB for 1,024 MiB held
