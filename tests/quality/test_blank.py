"""Blank series: measured on a subsample, set aside as missing and named; no usable series is an InputError."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.errors import InputError
from core.ingest import load_study
from core.ingest.content import SeriesContent
from core.quality.blank import blank_checks


def _blank_series(folder: Path) -> None:
    """Every file of a series rewritten with all-zero pixels (as the organisers' case 00109 FLAIR)."""
    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PixelData = np.zeros((ds.Rows, ds.Columns), np.int16).tobytes()
        ds.save_as(path)


def test_an_all_zero_volume_is_blank_and_an_image_is_not(loaded) -> None:
    zero = SeriesContent.measure(np.zeros((200, 200, 50), np.int16))
    image = SeriesContent.measure(loaded["T1w"].array)
    assert zero.blank and zero.dominant_fraction == 1.0 and zero.dominant_value == 0.0
    assert not image.blank and image.dominant_fraction < 0.5


def test_a_blank_flair_is_missing_and_named_with_its_measured_share(synthetic_case: Path, tmp_path: Path) -> None:
    root = tmp_path / "case"
    shutil.copytree(synthetic_case, root)
    _blank_series(root / "FLAIR")
    study = load_study(root)
    assert study.missing == ("FLAIR",) and list(study.volumes) == ["T1w", "T1wCE", "T2w"]
    flair = [c for c in blank_checks(study.content) if c.sequence == "FLAIR"][0]
    assert flair.status == "warn" and flair.value == 1.0 and "treated as missing" in flair.detail
    assert any(w.startswith("No usable FLAIR series (absent or blank)") for w in study.warnings)


def test_a_study_whose_every_series_is_blank_is_refused_naming_them(synthetic_case: Path, tmp_path: Path) -> None:
    root = tmp_path / "case"
    shutil.copytree(synthetic_case, root)
    for sequence in ("FLAIR", "T1w", "T1wCE", "T2w"):
        _blank_series(root / sequence)
    with pytest.raises(InputError, match="no usable sequence") as err:
        load_study(root)
    assert "FLAIR from FLAIR/" in err.value.user_message and "100.0% of its voxels equal 0" in err.value.user_message


def test_a_study_without_a_folder_is_read_with_that_sequence_missing(synthetic_case: Path, tmp_path: Path) -> None:
    root = tmp_path / "case"
    shutil.copytree(synthetic_case, root)
    shutil.rmtree(root / "T2w")
    study = load_study(root)
    assert study.missing == ("T2w",) and "T2w" not in study.content
