"""A cohort in the BraTS 2021 release layout trains, evaluates, scores and fits its OOD gate with no renaming."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.synth.cases import write_cohort

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> tuple[Path, Path]:
    """``DATA/BraTS2021_<id>/BraTS2021_<id>_{flair,t1,t1ce,t2,seg}.nii.gz`` and a separate train_labels.csv, with one
    labelled case whose folder is absent and one case folder without a label."""
    synthetic = tmp_path_factory.mktemp("synth")
    write_cohort(synthetic, 7, seed=9, fmt="nifti")
    data = tmp_path_factory.mktemp("download") / "RSNA_ASNR_MICCAI_BraTS2021_TrainingData"
    for case in sorted((synthetic / "train").iterdir()):
        folder = data / f"BraTS2021_{case.name}"
        shutil.copytree(case, folder)
        shutil.copy(synthetic / "masks" / f"{case.name}_seg.nii.gz", folder / f"BraTS2021_{case.name}_seg.nii.gz")
    rows = (synthetic / "train_labels.csv").read_text().splitlines()
    labels = data.parent / "train_labels.csv"
    labels.write_text("\n".join(rows[:7] + ["42,1"]) + "\n")  # case 00006 unlabelled, label 00042 without a case
    return data, labels


def _core(*args: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    return run


@pytest.mark.slow
def test_the_brats_2021_release_trains_evaluates_and_scores_as_downloaded(release, tmp_path: Path) -> None:
    data, labels = release
    model = tmp_path / "model"
    trained = _core("train", str(data), "--labels", str(labels), "--masks", str(data), "--out", str(model),
                    "--folds", "2", "--epochs", "1", "--input-shape", "32", "--spacing", "6", "--cache",
                    str(tmp_path / "cache"), "--quiet")
    assert "Segmentation trained on the label maps of 6 of 6 cases" in trained.stdout
    assert ("1 case folder(s) without a label (00006); 1 label(s) without a case folder (00042)"
            in trained.stderr)
    written = json.loads((model / "metrics.json").read_text())
    assert written["oof"]["n"] == 6 and written["cohort"]["unlabelled"] == ["00006"]
    evaluated = _core("evaluate", str(data), "--labels", str(labels), "--model", str(model), "--out",
                      str(tmp_path / "eval"), "--json")
    assert json.loads(evaluated.stdout)["n"] == 6
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["dice"]["n"] == 6  # label maps found inside the case folders without --masks
    assert report["cohort"]["without_case"] == ["00042"]
    scored = _core("batch", str(data), "--model", str(model), "--out", str(tmp_path / "batch.csv"), "--quiet")
    assert "scored 7 case(s)" in scored.stdout
    assert (tmp_path / "batch.csv").read_text().splitlines()[1].startswith("00000,")
    gate = _core("ood", str(model), str(data))
    assert json.loads((model / "ood.json").read_text())["n_cases"] == 7 and "7 cases" in gate.stdout
