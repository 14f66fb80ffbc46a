"""How a study's intensities were stored does not change the answer: the probability and the OOD distance of a
NIfTI study stay put when every sequence is linearly rescaled, z-scored over the whole volume, or z-scored over the
brain with the background left at 0 (as many BraTS pipelines store them), through the public predict path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from core.__main__ import main
from core.synth.cases import write_case

EXACT = {"probability": 1e-4, "ood": 1e-3}
"""Tolerances for a rescaling of the whole volume: float rounding only (relative for the OOD distance)."""
BRAIN_ONLY = {"probability": 5e-3, "ood": 1e-2}
"""Tolerances for a z-score over the brain with background 0: voxels at the brain's edge mix brain and background
on the model grid, and that background is no longer the intensity of no signal (measured: 1e-4 and 0.3%)."""


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("invariance")
    write_case(root, 3, seed=3, fmt="nifti")
    return root / "train" / "00003"


def _rewritten(source: Path, folder: Path, change: Callable[[np.ndarray], np.ndarray]) -> Path:
    folder.mkdir()
    for path in source.glob("*.nii.gz"):
        image = nib.load(path)
        array = np.asarray(image.dataobj, np.float32)
        nib.save(nib.Nifti1Image(change(array).astype(np.float32), image.affine), folder / path.name)
    return folder


def _brain_zscore(array: np.ndarray) -> np.ndarray:
    brain = array != 0
    out = np.zeros_like(array)
    out[brain] = (array[brain] - array[brain].mean()) / array[brain].std()
    return out


def _scored(folder: Path, capsys: pytest.CaptureFixture) -> dict:
    assert main(["predict", str(folder), "--json", "--no-cam", "--no-log"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("name", "change", "tolerance"), [
    ("scaled-and-shifted", lambda x: 0.013 * x + 250.0, EXACT),
    ("z-scored-whole-volume", lambda x: (x - x.mean()) / x.std(), EXACT),
    ("z-scored-over-the-brain", _brain_zscore, BRAIN_ONLY),
])
def test_a_linear_rescaling_leaves_probability_and_ood_distance_unchanged(
        stored: Path, tmp_path: Path, capsys, name: str, change, tolerance: dict) -> None:
    reference = _scored(stored, capsys)
    rescaled = _scored(_rewritten(stored, tmp_path / name, change), capsys)
    assert rescaled["probability"] == pytest.approx(reference["probability"], abs=tolerance["probability"])
    assert rescaled["ood"]["score"] == pytest.approx(reference["ood"]["score"], rel=tolerance["ood"])
    assert rescaled["abstained"] == reference["abstained"]
