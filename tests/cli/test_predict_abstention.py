"""``predict`` on studies it should not call: a blank series is missing (still predicted), copies abstain."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

from core.__main__ import main
from core.store import Store


def _copy_series(source: Path, target: Path, description: str) -> None:
    """``target`` holds the series of ``source`` under a new series UID (a copy the reader takes as another series)."""
    shutil.rmtree(target)
    shutil.copytree(source, target)
    uid = generate_uid()
    for path in target.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SeriesDescription = uid, generate_uid(), description
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(path)


def test_a_blank_flair_is_reported_missing_and_still_predicted(synthetic_case: Path, tmp_path: Path, db: Path,
                                                               capsys) -> None:
    root = tmp_path / "case"
    shutil.copytree(synthetic_case, root)
    for path in (root / "FLAIR").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PixelData = np.zeros((ds.Rows, ds.Columns), np.int16).tobytes()
        ds.save_as(path)
    assert main(["predict", str(root), "--json", "--no-cam", "--no-log"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["missing"] == ["FLAIR"] and list(report["sequences"]) == ["T1w", "T1wCE", "T2w"]
    blank = [q for q in report["quality"] if q["check"] == "blank" and q["sequence"] == "FLAIR"][0]
    assert blank["status"] == "warn" and blank["value"] == 1.0
    assert set(report["contributions"]) == {"T1w", "T1wCE", "T2w"}
    assert 0.0 <= report["probability"] <= 1.0


def test_four_copies_of_one_series_abstain_and_are_logged_as_abstained(synthetic_case: Path, tmp_path: Path,
                                                                      db: Path, capsys) -> None:
    root = tmp_path / "copies-study-7731"
    shutil.copytree(synthetic_case, root)
    for sequence in ("FLAIR", "T1wCE", "T2w"):
        _copy_series(root / "T1w", root / sequence, sequence)
    assert main(["predict", str(root), "--json", "--no-cam"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["abstained"] is True and report["label"] == "indeterminate"
    assert any("are the same image (correlation 1.000)" in reason for reason in report["reasons"])
    assert 0.0 <= report["probability"] <= 1.0  # still computed and returned
    row = Store(db).predictions().iloc[0]
    assert row["status"] == "abstained" and json.loads(row["reasons"]) == report["reasons"]
    assert "copies-study-7731" not in row["reasons"] and "Image-" not in row["reasons"]
