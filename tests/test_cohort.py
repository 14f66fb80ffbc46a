"""Cohort folders as downloaded (RSNA-MICCAI, BraTS 2021, BraTS 2023) joined with train_labels.csv on BraTS21ID."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cohort import case_id_of, discover, find_cases
from core.errors import InputError
from core.train.masks import mask_path


def _folders(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).mkdir(parents=True)
    return root


def test_each_naming_reduces_to_the_five_digit_brats21id() -> None:
    assert [case_id_of(n) for n in ("00012", "12", "BraTS2021_00012", "BraTS-GLI-00012-000", "masks")] == [
        "00012", "00012", "00012", "00012", None]


def test_the_rsna_layout_is_read_under_train(tmp_path: Path) -> None:
    _folders(tmp_path / "train", "00000", "00002")
    cohort = discover(tmp_path, {"00000": 1, "00002": 0})
    assert [(c.case_id, c.label, c.folder.name) for c in cohort.cases] == [("00000", 1, "00000"), ("00002", 0, "00002")]
    assert cohort.root == tmp_path / "train"


def test_the_brats_2021_release_is_read_as_it_is(tmp_path: Path) -> None:
    _folders(tmp_path, "BraTS2021_00000", "BraTS2021_00002", "BraTS2021_00005")
    cohort = discover(tmp_path, {"0": 1, "2": 0, "5": 1})  # train_labels.csv writes BraTS21ID without zeros
    assert [(c.case_id, c.label, c.folder.name) for c in cohort.cases] == [
        ("00000", 1, "BraTS2021_00000"), ("00002", 0, "BraTS2021_00002"), ("00005", 1, "BraTS2021_00005")]


def test_brats_2023_names_join_and_a_second_timepoint_is_named(tmp_path: Path) -> None:
    _folders(tmp_path, "BraTS-GLI-00003-000", "BraTS-GLI-00003-001", "BraTS-GLI-00007-000")
    cohort = discover(tmp_path, {"00003": 0, "00007": 1})
    assert [c.folder.name for c in cohort.cases] == ["BraTS-GLI-00003-000", "BraTS-GLI-00007-000"]
    assert cohort.passed_over == ("BraTS-GLI-00003-001: a second folder of case 00003 (using BraTS-GLI-00003-000)",)


def test_cases_without_labels_and_labels_without_cases_are_counted_and_named(tmp_path: Path) -> None:
    _folders(tmp_path, "BraTS2021_00000", "BraTS2021_00001", "BraTS2021_00004", "evaluation")
    cohort = discover(tmp_path, {"00000": 1, "00001": 0, "00002": 1, "00003": 0})
    assert cohort.unlabelled == ("00004",) and cohort.without_case == ("00002", "00003")
    assert cohort.summary() == (f"2 case(s) under {tmp_path}; 1 case folder(s) without a label (00004); 2 label(s) "
                                "without a case folder (00002, 00003); 1 folder(s) passed over (evaluation)")
    assert cohort.to_json()["without_case"] == ["00002", "00003"]


def test_the_organisers_broken_cases_are_left_out_and_named(tmp_path: Path) -> None:
    _folders(tmp_path, "BraTS2021_00109", "BraTS2021_00110")
    cases, skipped = find_cases(tmp_path, {"00109": 1, "00110": 0})
    assert [c.case_id for c in cases] == ["00110"] and skipped == ["00109: flagged as broken by the organisers"]


def test_without_labels_folders_of_any_name_are_studies(tmp_path: Path) -> None:
    _folders(tmp_path, "site-a-patient", "site-b-patient")
    cohort = discover(tmp_path)
    assert [(c.case_id, c.label) for c in cohort.cases] == [("site-a-patient", None), ("site-b-patient", None)]


def test_no_labelled_case_names_the_layouts_expected(tmp_path: Path) -> None:
    _folders(tmp_path, "patient-one")
    with pytest.raises(InputError) as err:
        discover(tmp_path, {"00000": 1})
    assert "BraTS2021_<id>/" in err.value.user_message and "1 other folders" in err.value.user_message


@pytest.mark.parametrize("relative", ["BraTS2021_00004/BraTS2021_00004_seg.nii.gz", "BraTS2021_00004_seg.nii.gz",
                                      "BraTS-GLI-00004-000/BraTS-GLI-00004-000-seg.nii.gz", "00004_seg.nii.gz"])
def test_a_label_map_is_found_flat_or_inside_its_case_folder(tmp_path: Path, relative: str) -> None:
    (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relative).write_bytes(b"")
    assert mask_path(tmp_path, "00004") == tmp_path / relative
