"""``python -m core predict`` logs each attempt in the store, unless ``--no-log``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.__main__ import main
from core.store import Store

PINNED_KEYS = ("probability", "label", "threshold", "uncertainty", "sequences", "model", "preprocessing_version",
               "study_hash", "timings_s", "warnings", "notice", "logged", "log_id")
"""The keys of ``predict --json`` before the typed report (scripts depend on them)."""


@pytest.fixture
def case(synthetic_case: Path) -> Path:
    return synthetic_case


def test_predict_logs_one_row_with_the_printed_probability(case: Path, db: Path, capsys) -> None:
    assert main(["predict", str(case), "--json", "--no-cam"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = Store(db).predictions()
    assert len(rows) == 1 and report["logged"] is True
    assert (rows.iloc[0]["status"], rows.iloc[0]["channel"], rows.iloc[0]["user"]) == ("ok", "cli", "cli")
    assert rows.iloc[0]["probability"] == pytest.approx(report["probability"], abs=1e-6)


def test_predict_no_log_adds_no_row(case: Path, db: Path, capsys) -> None:
    assert main(["predict", str(case), "--json", "--no-cam", "--no-log"]) == 0
    assert json.loads(capsys.readouterr().out)["logged"] is False
    assert Store(db).predictions().empty


def test_predict_json_keeps_its_keys_and_times_loading_first(case: Path, db: Path, capsys) -> None:
    assert main(["predict", str(case), "--json", "--no-cam", "--no-log"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report)[:13] == list(PINNED_KEYS)  # the keys scripts rely on, in their order; new ones come after
    assert set(report["uncertainty"]) == {"std", "interval90", "augmentations", "method", "members"}
    assert set(report["model"]) == {"repo", "revision"} and report["model"]["repo"] == "bundled weights/"
    assert list(report["sequences"]) == ["FLAIR", "T1w", "T1wCE", "T2w"]
    assert set(report["sequences"]["T1w"]) == {"source", "identified_by", "shape", "n_slices", "spacing_mm", "axcodes",
                                               "plane", "rescale"}
    assert report["skull_strip"] == {"action": "already stripped", "reason": "detected", "mode": "auto"}
    timings = list(report["timings_s"])
    assert timings[0] == "load_model" and timings[-1] == "total" and "read" in timings and "model" in timings
    assert report["timings_s"]["total"] >= sum(v for k, v in report["timings_s"].items() if k != "total") - 0.01


def test_predict_text_output_reads_as_before(case: Path, db: Path, capsys) -> None:
    assert main(["predict", str(case), "--no-cam"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("P(methylated) = ") and "model: " in out and "timings: load_model " in out
    assert "... reading series" in err and len(Store(db).predictions()) == 1


def test_a_rejected_study_is_logged_and_exits_2(tmp_path: Path, db: Path, capsys) -> None:
    (tmp_path / "empty-study").mkdir()
    assert main(["predict", str(tmp_path / "empty-study")]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("error: 'empty-study' is empty;")
    row = Store(db).predictions().iloc[0]
    assert row["status"] == "rejected" and row["channel"] == "cli" and "empty-study" not in row["error"]


def test_predict_exports_the_segmentation_with_the_grids_ras_affine(case: Path, db: Path, tmp_path: Path,
                                                                    capsys) -> None:
    import nibabel as nib
    import numpy as np

    out = tmp_path / "seg.nii.gz"
    assert main(["predict", str(case), "--json", "--no-cam", "--no-log", "--export-seg", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    image = nib.load(out)
    labels = np.asarray(image.dataobj)
    assert nib.aff2axcodes(image.affine) == ("R", "A", "S") and set(np.unique(labels)) <= {0, 1, 2, 4}
    voxel_ml = abs(np.linalg.det(image.affine[:3, :3])) / 1000
    assert report["tumour"]["volumes_ml"]["whole"] == pytest.approx((labels > 0).sum() * voxel_ml, abs=1e-3)
    centre = image.affine[:3, :3] @ np.argwhere(labels > 0).mean(axis=0) + image.affine[:3, 3]
    assert report["tumour"]["centre_mm"] == pytest.approx(centre.tolist(), abs=0.01)
    assert report["missing"] == []
