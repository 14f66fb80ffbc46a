"""``python -m core inspect``: geometry report, NIfTI export at the right world coordinates, clean errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from core.__main__ import main
from tests.conftest import field_value

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)


def test_inspect_json_reports_each_sequence(study_dir, capsys) -> None:
    root, written = study_dir
    assert main(["inspect", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["sequences"]) == ["FLAIR", "T1w", "T1wCE", "T2w"]
    planes = {name: seq["plane"] for name, seq in report["sequences"].items()}
    assert planes == {"FLAIR": "axial", "T1w": "sagittal", "T1wCE": "coronal", "T2w": "oblique"}
    flair = report["sequences"]["FLAIR"]
    assert flair["shape"] == [20, 18, 12] and flair["n_slices"] == 12
    assert flair["spacing_mm"] == [1.5, 1.25, 3.0] and flair["axcodes"] == "LPS"
    assert np.allclose(flair["affine"], written["FLAIR"].affine, atol=1e-3)


def test_export_writes_niftis_at_the_known_world_coordinates(study_dir, tmp_path: Path, capsys) -> None:
    root, written = study_dir
    assert main(["inspect", str(root), "--export", str(tmp_path / "out")]) == 0
    assert "wrote" in capsys.readouterr().out
    for sequence, series in written.items():
        image = nib.load(tmp_path / "out" / f"{sequence}.nii.gz")
        data = np.asarray(image.dataobj)
        ijk = np.array([[0, 0, 0], [5, 7, 3], [19, 17, 11], [10, 2, 8]])
        world = ijk @ image.affine[:3, :3].T + image.affine[:3, 3]
        assert np.allclose(data[tuple(ijk.T)], field_value(world, series.offset), atol=0.26)
        assert image.header.get_sform(coded=True)[1] == 1


def test_inspect_table_is_readable(study_dir) -> None:
    root, _ = study_dir
    result = _run("inspect", str(root))
    assert result.returncode == 0, result.stderr
    assert "T2w      oblique" in result.stdout and "identified by folder name 'FLAIR'" in result.stdout


def test_bad_input_prints_error_and_exits_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = _run("inspect", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: 'empty' is empty;")
    assert "Traceback" not in result.stderr


def test_missing_path_prints_error(tmp_path: Path) -> None:
    result = _run("inspect", str(tmp_path / "nowhere"))
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "nowhere" in result.stderr


def test_synth_command_writes_a_cohort_that_inspect_reads(tmp_path: Path) -> None:
    result = _run("synth", "--out", str(tmp_path / "cohort"), "--cases", "2", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "wrote 2 small dicom case(s)" in result.stdout and "best achievable AUC 0.850" in result.stdout
    labels = (tmp_path / "cohort" / "train_labels.csv").read_text().splitlines()
    assert labels[0] == "BraTS21ID,MGMT_value" and len(labels) == 3
    inspected = _run("inspect", str(tmp_path / "cohort" / "train" / "00001"), "--json")
    assert inspected.returncode == 0, inspected.stderr
    assert list(json.loads(inspected.stdout)["sequences"]) == ["FLAIR", "T1w", "T1wCE", "T2w"]


def test_synth_rejects_a_non_positive_case_count(tmp_path: Path) -> None:
    result = _run("synth", "--out", str(tmp_path / "c"), "--cases", "0")
    assert result.returncode == 2 and result.stderr.startswith("error: --cases is 0")
