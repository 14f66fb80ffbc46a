"""The written cohort: RSNA layout and labels, valid DICOM, exact read-back through ingest, same seed same bytes."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from scipy import ndimage

from core import SEQUENCES
from core.errors import InputError
from core.ingest import load_study
from core.ingest.geometry import world_of_voxels
from core.regions import ENHANCING, NECROTIC, OEDEMA
from core.synth.cases import CaseTruth, write_case, write_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, list[CaseTruth]]:
    out = tmp_path_factory.mktemp("cohort")
    return out, write_cohort(out, 3, seed=11)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> tuple[Path, CaseTruth, dict[str, np.ndarray]]:
    """Case 0 of seed 11: its four series are axial, sagittal, coronal and oblique."""
    out = tmp_path_factory.mktemp("case")
    kept: dict[str, np.ndarray] = {}
    truth = write_case(out, 0, seed=11, keep=kept)
    assert {plan.plane for plan in truth.plans.values()} == {"axial", "sagittal", "coronal", "oblique"}
    return out, truth, kept


def headers(series: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(path, stop_before_pixels=True) for path in sorted(series.iterdir())]


def digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + path.read_bytes())
    return sha.hexdigest()


def test_layout_follows_the_rsna_dataset(cohort) -> None:
    out, _ = cohort
    assert sorted(p.name for p in out.iterdir()) == ["masks", "train", "train_labels.csv", "truth.csv"]
    assert sorted(p.name for p in (out / "train").iterdir()) == ["00000", "00001", "00002"]
    for case_dir in (out / "train").iterdir():
        assert sorted(p.name for p in case_dir.iterdir()) == sorted(SEQUENCES)
        for series in case_dir.iterdir():
            names = [p.name for p in series.iterdir()]
            assert sorted(names) == sorted(f"Image-{n}.dcm" for n in range(1, len(names) + 1))


def test_labels_file_is_exactly_the_competition_format(cohort) -> None:
    out, truths = cohort
    text = (out / "train_labels.csv").read_text()
    assert text == "BraTS21ID,MGMT_value\n" + "".join(f"{int(t.case_id)},{t.traits.label}\n" for t in truths)


def test_truth_records_score_volume_planes_and_ceiling(cohort) -> None:
    out, truths = cohort
    with open(out / "truth.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["BraTS21ID"]) for r in rows] == [0, 1, 2]
    for row, truth in zip(rows, truths, strict=True):
        assert float(row["latent_score"]) == pytest.approx(truth.traits.score, abs=1e-6)
        assert float(row["best_achievable_auc"]) == 0.85
        assert float(row["whole_volume_ml"]) > float(row["core_volume_ml"]) > float(row["enhancing_volume_ml"]) > 0
        assert float(row["core_volume_ml"]) == pytest.approx(
            float(row["necrotic_volume_ml"]) + float(row["enhancing_volume_ml"]), abs=2e-3)
        assert row["planes"] == ";".join(f"{seq}:{truth.plans[seq].plane}" for seq in SEQUENCES)


def test_masks_are_brats_labels_and_the_brain_on_the_reference_grid(cohort) -> None:
    out, truths = cohort
    seg = nib.load(out / "masks" / "00001_seg.nii.gz")
    brain = nib.load(out / "masks" / "00001_brain.nii.gz")
    labels = np.asarray(seg.dataobj)
    assert set(np.unique(labels)) == {0, NECROTIC, OEDEMA, ENHANCING}
    assert np.allclose(seg.affine, truths[1].reference_affine) and np.allclose(brain.affine, seg.affine)
    volume_ml = (np.asarray(brain.dataobj) > 0).sum() * abs(np.linalg.det(brain.affine[:3, :3])) / 1000
    assert 1000 < volume_ml < 2200  # an adult brain with its CSF
    assert not labels[np.asarray(brain.dataobj) == 0].any()


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian package dicom3tools) is not installed")
def test_every_written_file_passes_dciodvfy(cohort) -> None:
    out, _ = cohort
    for path in sorted((out / "train").rglob("*.dcm")):
        result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=30)
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], f"{path}: {errors}"


def test_each_case_has_one_study_uid_and_its_own_fake_patient(cohort) -> None:
    out, _ = cohort
    identities = []
    for case_dir in sorted((out / "train").iterdir()):
        found = {(ds.StudyInstanceUID, str(ds.PatientName), ds.PatientID, ds.PatientBirthDate, ds.FrameOfReferenceUID)
                 for seq in SEQUENCES for ds in headers(case_dir / seq)}
        assert len(found) == 1, case_dir.name
        identities.append(found.pop())
    for field in range(4):
        assert len({identity[field] for identity in identities}) == 3
    assert all("^" in identity[1] and len(identity[3]) == 8 for identity in identities)


def test_instance_numbers_do_not_always_follow_position(cohort) -> None:
    out, _ = cohort
    follows = []
    for series in sorted((out / "train").glob("*/*")):
        found = headers(series)
        normal = np.cross(*np.reshape(np.asarray(found[0].ImageOrientationPatient, float), (2, 3)))
        position = [float(np.dot(normal, np.asarray(ds.ImagePositionPatient, float))) for ds in found]
        numbers = [int(ds.InstanceNumber) for ds in found]
        follows.append(list(np.argsort(position)) == list(np.argsort(numbers)))
    assert not all(follows) and any(follows)


def test_read_back_gives_the_generated_volumes_at_the_same_world_positions(case) -> None:
    out, truth, kept = case
    study = load_study(out / "train" / truth.case_id)
    rng = np.random.default_rng(0)
    for sequence in SEQUENCES:
        plan, volume = truth.plans[sequence], study[sequence]
        assert volume.plane == plan.plane and volume.shape == plan.shape
        ijk = np.stack([rng.integers(0, n, 500) for n in plan.shape], axis=1)
        world = world_of_voxels(plan.affine, ijk)
        inverse = np.linalg.inv(volume.affine)
        loaded_ijk = np.rint(world @ inverse[:3, :3].T + inverse[:3, 3]).astype(int)
        assert np.allclose(world_of_voxels(volume.affine, loaded_ijk), world, atol=1e-3), sequence
        loaded = volume.intensities()[tuple(loaded_ijk.T)]
        assert np.max(np.abs(loaded - kept[sequence][tuple(ijk.T)])) <= plan.rescale[0] / 2 + 1e-3, sequence


def test_read_back_series_show_the_tumour_where_the_mask_says(case) -> None:
    out, truth, _ = case
    study = load_study(out / "train" / truth.case_id)
    seg = nib.load(out / "masks" / f"{truth.case_id}_seg.nii.gz")
    labels = np.asarray(seg.dataobj)
    brain = np.asarray(nib.load(out / "masks" / f"{truth.case_id}_brain.nii.gz").dataobj) > 0
    regions = {"healthy": brain & (ndimage.distance_transform_edt(labels == 0) > 3), "oedema": labels == OEDEMA,
               "enhancing": labels == ENHANCING, "necrotic": labels == NECROTIC}

    def mean(sequence: str, region: str) -> float:
        volume = study[sequence]
        to_voxel = np.linalg.inv(volume.affine) @ seg.affine
        coords = np.argwhere(regions[region]) @ to_voxel[:3, :3].T + to_voxel[:3, 3]
        return float(ndimage.map_coordinates(volume.intensities(), coords.T, order=1).mean())

    assert mean("FLAIR", "oedema") > 1.4 * mean("FLAIR", "healthy")
    assert mean("T1wCE", "enhancing") > 1.4 * max(mean("T1wCE", "necrotic"), mean("T1wCE", "healthy"))
    assert mean("T1w", "necrotic") < 0.7 * mean("T1w", "healthy")
    assert mean("T2w", "necrotic") > 1.4 * mean("T2w", "healthy")


def test_same_seed_same_bytes_and_cases_independent_of_cohort_size(tmp_path: Path, cohort) -> None:
    write_cohort(tmp_path / "a", 1, seed=7)
    write_cohort(tmp_path / "b", 1, seed=7)
    write_cohort(tmp_path / "c", 1, seed=8)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")
    write_case(tmp_path / "d", 2, seed=11)
    assert digest(tmp_path / "d" / "train" / "00002") == digest(cohort[0] / "train" / "00002")


def test_nifti_format_writes_brats_named_coregistered_files(tmp_path: Path) -> None:
    truth = write_case(tmp_path, 2, seed=1, fmt="nifti")
    names = sorted(p.name for p in (tmp_path / "train" / "00002").iterdir())
    assert names == [f"BraTS2021_00002_{s}.nii.gz" for s in ("flair", "t1", "t1ce", "t2")]
    study = load_study(tmp_path / "train" / "00002")
    for sequence in SEQUENCES:
        assert np.allclose(study[sequence].affine, truth.reference_affine)
        assert study[sequence].plane == truth.plans[sequence].plane == "axial"


def test_skull_option_puts_a_bright_scalp_outside_the_brain(tmp_path: Path) -> None:
    outside = {}
    for skull in (False, True):
        truth = write_case(tmp_path / str(skull), 0, seed=2, fmt="nifti", skull=skull)
        t1 = np.asarray(nib.load(tmp_path / str(skull) / "train" / "00000" / "BraTS2021_00000_t1.nii.gz").dataobj)
        brain = np.asarray(nib.load(tmp_path / str(skull) / "masks" / "00000_brain.nii.gz").dataobj) > 0
        shell = ndimage.binary_dilation(brain, iterations=8) & ~brain  # 16 mm around the brain
        outside[skull] = np.percentile(t1[shell], 90) / np.median(t1[brain])
        assert truth.skull is skull
    assert outside[False] < 0.2 and outside[True] > 1.0


def test_unknown_size_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="size is 'rnsa'; expected one of small, rsna \\(did you mean 'rsna'\\?\\)"):
        write_case(tmp_path, 0, size="rnsa")
    assert not (tmp_path / "masks").exists()
