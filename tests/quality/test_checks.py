"""Coverage, brain volume, sequence identity and tumour size: each check's measured value and verdict."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.ingest.study import Study
from core.quality.brain import brain_check
from core.quality.checks import run_checks
from core.quality.coverage import coverage_checks, covered_fraction
from core.quality.identity import _relative, identity_checks
from core.quality.tumour import tumour_check
from tests.quality.conftest import exchanged


def test_the_shared_case_passes_every_check(loaded, prepared) -> None:
    checks = run_checks(loaded, prepared, {"whole": 80.0})
    assert [c for c in checks if c.status != "pass"] == []
    assert {c.check for c in checks} >= {"blank", "coverage", "brain", "duplicate", "contrast", "fluid", "tumour"}


def test_a_series_cut_through_the_middle_covers_about_half_the_brain(loaded, prepared) -> None:
    volume = loaded["T1w"]
    grid = prepared.grid.affine
    brain_world = grid[:3, :3] @ np.argwhere(prepared.brain_mask).mean(axis=0) + grid[:3, 3]
    centre_voxel = (np.linalg.inv(volume.affine) @ np.append(brain_world, 1.0))[:3]
    axis = 2
    shape = list(volume.shape)
    shape[axis] = int(round(centre_voxel[axis]))  # the series stops at the brain's centre along its slices
    fraction, outside = covered_fraction(prepared.brain_mask, prepared.grid, volume.affine, tuple(shape))
    assert 0.35 < fraction < 0.65 and outside[axis] == pytest.approx(1 - fraction, abs=1e-6)
    cut = dataclasses.replace(volume, array=volume.array[:, :, :shape[axis]])
    study = Study({**loaded.volumes, "T1w": cut}, loaded.study_hash)
    check = [c for c in coverage_checks(study, prepared.brain_mask, prepared.grid) if c.sequence == "T1w"][0]
    assert check.status == "warn" and check.value == pytest.approx(fraction)
    assert f"covers only {fraction:.0%} of the brain" in check.detail


def test_brain_volume_passes_warns_and_fails_by_millilitres(prepared) -> None:
    grid = prepared.grid
    voxel_ml = abs(np.linalg.det(grid.affine[:3, :3])) / 1000.0
    mask = np.zeros(grid.shape, bool)
    mask.reshape(-1)[: int(1400 / voxel_ml)] = True
    assert brain_check(mask, grid, "already stripped").status == "pass"
    mask[:] = False
    mask.reshape(-1)[: int(600 / voxel_ml)] = True
    small = brain_check(mask, grid, "already stripped")
    assert small.status == "warn" and small.value == pytest.approx(600, abs=voxel_ml)
    mask[:] = False
    none = brain_check(mask, grid, "stripped by deepbet")
    assert none.status == "fail" and none.value == 0.0 and "No brain was found" in none.detail


def test_exchanged_t1w_and_t1wce_are_a_warning_naming_both(loaded, preprocessing) -> None:
    from core.preprocess.chain import prepare

    study = exchanged(loaded, "T1w", "T1wCE")
    prepared = prepare(study, preprocessing)
    check = [c for c in identity_checks(study, prepared.intensities, prepared.brain_mask, prepared.sequences)
             if c.check == "contrast"][0]
    assert check.status == "warn" and check.value < -0.1 and "T1w and T1wCE series look exchanged" in check.detail


def test_exchanged_flair_and_t2w_are_a_warning_naming_both(loaded, preprocessing) -> None:
    from core.preprocess.chain import prepare

    study = exchanged(loaded, "FLAIR", "T2w")
    prepared = prepare(study, preprocessing)
    check = [c for c in identity_checks(study, prepared.intensities, prepared.brain_mask, prepared.sequences)
             if c.check == "fluid"][0]
    assert check.status == "warn" and check.value > 0.2 and "FLAIR and T2w series look exchanged" in check.detail


def test_four_copies_of_one_series_fail_as_duplicates(loaded, preprocessing) -> None:
    from core.preprocess.chain import prepare

    volumes = {name: dataclasses.replace(loaded["T1w"], sequence=name) for name in loaded.volumes}
    study = Study(volumes, loaded.study_hash)
    prepared = prepare(study, preprocessing)
    failed = [c for c in identity_checks(study, prepared.intensities, prepared.brain_mask, prepared.sequences)
              if c.failed]
    assert len(failed) == 6 and all(c.value > 0.999 for c in failed)


def test_a_sequence_constant_over_the_brain_has_no_correlation_rather_than_nan(loaded, prepared) -> None:
    intensities = prepared.intensities.copy()
    intensities[prepared.sequences.index("T2w")][prepared.brain_mask] = 5.0
    with np.errstate(all="raise"):
        checks = [c for c in identity_checks(loaded, intensities, prepared.brain_mask, prepared.sequences)
                  if c.check == "duplicate"]
    assert [(c.status, c.sequence) for c in checks] == [("pass", None)]
    # the highest of the three pairs without T2w
    relative = {name: _relative(intensities[prepared.sequences.index(name)], prepared.brain_mask)
                for name in ("FLAIR", "T1w", "T1wCE")}
    pairs = [("FLAIR", "T1w"), ("FLAIR", "T1wCE"), ("T1w", "T1wCE")]
    assert checks[0].value == pytest.approx(max(np.corrcoef(relative[a], relative[b])[0, 1] for a, b in pairs))


def test_a_description_equal_to_its_folder_name_passes_as_in_rsna_data(loaded, prepared) -> None:
    volumes = {name: dataclasses.replace(volume, description=name) for name, volume in loaded.volumes.items()}
    study = Study(volumes, loaded.study_hash)
    assert [c for c in identity_checks(study, prepared.intensities, prepared.brain_mask, prepared.sequences)
            if c.check == "description"] == []


def test_a_description_contradicting_its_folder_is_a_warning(loaded, prepared) -> None:
    t1 = dataclasses.replace(loaded["T1w"], description="AX T1 POST GAD")
    study = Study({**loaded.volumes, "T1w": t1}, loaded.study_hash)
    check = [c for c in identity_checks(study, prepared.intensities, prepared.brain_mask, prepared.sequences)
             if c.check == "description"][0]
    assert check.status == "warn" and check.sequence == "T1w" and "reads as T1wCE" in check.detail


@pytest.mark.parametrize(("whole", "status"), [(0.0, "fail"), (1.2, "fail"), (3.5, "pass"), (84.4, "pass")])
def test_a_tumour_under_three_millilitres_fails(whole: float, status: str) -> None:
    check = tumour_check({"necrotic": 0.0, "oedema": whole, "enhancing": 0.0, "whole": whole})
    assert check.status == status and check.value == whole


def test_slices_ten_millimetres_apart_warn_with_their_step(loaded) -> None:
    from core.quality.acquisition import acquisition_checks

    t1 = loaded["T1w"]
    affine = t1.affine.copy()
    affine[:3, 2] *= 10.0 / np.linalg.norm(affine[:3, 2])
    study = Study({**loaded.volumes, "T1w": dataclasses.replace(t1, affine=affine)}, loaded.study_hash)
    check = [c for c in acquisition_checks(study) if c.check == "resolution" and c.sequence == "T1w"][0]
    assert check.status == "warn" and check.value == pytest.approx(10.0) and "10.0 mm apart" in check.detail


def test_a_hounsfield_like_scale_warns_and_an_mr_scale_passes(loaded) -> None:
    from core.quality.acquisition import acquisition_checks

    t2 = loaded["T2w"]
    array = np.where(t2.intensities() > 50, 30.0, -1000.0).astype(np.float32)
    study = Study({**loaded.volumes, "T2w": dataclasses.replace(t2, array=array, rescale=(1.0, 0.0))},
                  loaded.study_hash)
    checks = {c.sequence: c for c in acquisition_checks(study) if c.check == "intensity"}
    assert checks["T2w"].status == "warn" and checks["T2w"].value > 0.5
    assert checks["FLAIR"].status == "pass" and checks["FLAIR"].value == 0.0
