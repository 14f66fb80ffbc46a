"""The synthetic cohort: RSNA layout and labels, valid DICOM, exact read-back, known label signal, MRI contrast."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy.stats import norm

from core import SEQUENCES
from core.ingest import load_study
from core.ingest.geometry import world_of_voxels
from core.synth.anatomy import deformed
from core.synth.cohort import case_rng, write_case, write_cohort
from core.synth.contrast import render_all
from core.synth.tumour import (
    DEFAULT_SEPARATION,
    ENHANCING,
    NECROSIS,
    OEDEMA,
    best_achievable_auc,
    draw_traits,
    tumour_labels,
)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, list]:
    out = tmp_path_factory.mktemp("cohort")
    return out, write_cohort(out, 3, seed=11)


def test_layout_and_labels_follow_the_rsna_files(cohort) -> None:
    out, truths = cohort
    assert sorted(p.name for p in (out / "train").iterdir()) == ["00000", "00001", "00002"]
    for case in (out / "train").iterdir():
        assert sorted(p.name for p in case.iterdir()) == ["FLAIR", "T1w", "T1wCE", "T2w"]
        for series in case.iterdir():
            names = sorted(int(p.stem.split("-")[1]) for p in series.iterdir())
            assert all(p.name.startswith("Image-") and p.suffix == ".dcm" for p in series.iterdir())
            assert names == list(range(1, len(names) + 1))
    lines = (out / "train_labels.csv").read_text().splitlines()
    assert lines[0] == "BraTS21ID,MGMT_value"
    assert lines[1:] == [f"{int(t.case_id)},{t.traits.label}" for t in truths]
    with open(out / "truth.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["best_achievable_auc"]) for r in rows] == [0.85] * 3
    assert all(r["planes"].count(":") == 4 for r in rows)
    seg = nib.load(out / "masks" / "00001_seg.nii.gz")
    assert set(np.unique(np.asarray(seg.dataobj))) <= {0, NECROSIS, OEDEMA, ENHANCING}
    assert np.allclose(seg.affine, truths[1].reference_affine)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) is not installed")
def test_every_series_passes_dciodvfy(cohort) -> None:
    out, _ = cohort
    for series in sorted((out / "train").glob("*/*")):
        for path in sorted(series.iterdir())[:3]:
            result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=30)
            errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
            assert errors == [], f"{path}: {errors}"


def test_read_back_gives_the_generated_volumes_at_the_same_world_positions(tmp_path: Path) -> None:
    kept: dict[str, np.ndarray] = {}
    truth = write_case(tmp_path, 4, seed=3, keep=kept)
    study = load_study(tmp_path / "train" / truth.case_id)
    rng = np.random.default_rng(0)
    for sequence in SEQUENCES:
        plan, volume = truth.plans[sequence], study[sequence]
        assert volume.plane == plan.plane
        ijk = np.stack([rng.integers(0, n, 300) for n in plan.shape], axis=1)
        world = world_of_voxels(plan.affine, ijk)
        inverse = np.linalg.inv(volume.affine)
        loaded_ijk = np.rint(world @ inverse[:3, :3].T + inverse[:3, 3]).astype(int)
        assert np.allclose(world_of_voxels(volume.affine, loaded_ijk), world, atol=1e-3)
        quantum = plan.rescale[0] / 2 + 1e-3
        loaded = volume.intensities()[tuple(loaded_ijk.T)]
        assert np.max(np.abs(loaded - kept[sequence][tuple(ijk.T)])) <= quantum


def test_latent_score_auc_matches_the_stated_ceiling() -> None:
    rng = np.random.default_rng(0)
    d, n = DEFAULT_SEPARATION, 600
    labels = (rng.random(n) < 0.52).astype(int)
    scores = rng.normal(np.where(labels == 1, d / 2, -d / 2), 1.0)
    positives, negatives = scores[labels == 1], scores[labels == 0]
    auc = float(np.mean(positives[:, None] > negatives[None, :]))
    stated = best_achievable_auc(d)
    q1, q2 = stated / (2 - stated), 2 * stated**2 / (1 + stated)  # Hanley & McNeil standard error
    se = np.sqrt((stated * (1 - stated) + (len(positives) - 1) * (q1 - stated**2)
                  + (len(negatives) - 1) * (q2 - stated**2)) / (len(positives) * len(negatives)))
    assert stated == pytest.approx(norm.cdf(d / np.sqrt(2)))
    assert abs(stated - 0.85) < 0.002
    assert abs(auc - stated) < 3 * se


def test_generator_labels_and_scores_carry_the_separation() -> None:
    anatomy = deformed(case_rng(0, 0), 2.0)
    rng = np.random.default_rng(2024)
    draws = [draw_traits(rng, anatomy, DEFAULT_SEPARATION) for _ in range(300)]
    labels = np.array([t.label for t in draws])
    scores = np.array([t.score for t in draws])
    assert 0.43 < labels.mean() < 0.61  # 0.52 +- 3 standard errors
    assert np.mean(scores[labels == 1]) - np.mean(scores[labels == 0]) == pytest.approx(DEFAULT_SEPARATION, abs=0.3)
    necrosis = np.array([t.necrotic_fraction for t in draws])
    assert np.corrcoef(scores, necrosis)[0, 1] > 0.95  # the score drives a visible trait
    radius = np.array([t.radius_mm for t in draws])
    assert abs(np.corrcoef(labels, radius)[0, 1]) < 0.15  # size is independent of the label


def test_tissue_contrast_follows_real_mri() -> None:
    rng = case_rng(5, 0)
    anatomy = deformed(rng, 2.0)
    traits = draw_traits(rng, anatomy, DEFAULT_SEPARATION)
    labels = tumour_labels(rng, anatomy, traits)
    images = render_all(anatomy, labels, None)
    healthy = labels == 0
    white, grey, csf = (healthy & (m > 0.9) for m in (anatomy.white, anatomy.grey, anatomy.csf))

    def mean(sequence: str, mask: np.ndarray) -> float:
        assert mask.sum() > 20
        return float(images[sequence][mask].mean())

    oedema, necrosis, rim = labels == OEDEMA, labels == NECROSIS, labels == ENHANCING
    assert mean("FLAIR", oedema) > mean("FLAIR", white) and mean("FLAIR", csf) < mean("FLAIR", white)
    assert mean("T1wCE", rim) > mean("T1wCE", necrosis) and mean("T1wCE", rim) > mean("T1wCE", white)
    assert mean("T1w", rim) < mean("T1w", white)  # enhancement only after contrast
    assert mean("T1w", white) > mean("T1w", grey) > mean("T1w", csf) and mean("T1w", necrosis) < mean("T1w", white)
    assert mean("T2w", csf) > mean("T2w", grey) > mean("T2w", white) and mean("T2w", necrosis) > mean("T2w", white)
    assert mean("T2w", oedema) > mean("T2w", white)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    write_cohort(tmp_path / "a", 1, seed=7)
    write_cohort(tmp_path / "b", 1, seed=7)
    write_cohort(tmp_path / "c", 1, seed=8)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_nifti_format_writes_brats_named_coregistered_files(tmp_path: Path) -> None:
    truth = write_case(tmp_path, 2, seed=1, fmt="nifti")
    names = sorted(p.name for p in (tmp_path / "train" / "00002").iterdir())
    assert names == [f"BraTS2021_00002_{s}.nii.gz" for s in ("flair", "t1", "t1ce", "t2")]
    study = load_study(tmp_path / "train" / "00002")
    for sequence in SEQUENCES:
        assert np.allclose(study[sequence].affine, truth.reference_affine)


def test_skull_option_adds_bright_scalp_and_dark_bone_on_t1(tmp_path: Path) -> None:
    from core.synth.anatomy import head_layers

    anatomy = deformed(case_rng(2, 0), 2.0)
    layers = head_layers(anatomy.brain, anatomy.spacing)
    images = render_all(anatomy, np.zeros(anatomy.shape, np.uint8), layers)
    white = anatomy.white > 0.9
    assert images["T1w"][layers["scalp"]].mean() > images["T1w"][white].mean()
    assert images["T1w"][layers["bone"]].mean() < 0.2 * images["T1w"][white].mean()
