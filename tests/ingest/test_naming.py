"""Each series is recognised as its sequence from folder names, file names, descriptions or header physics."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from core.errors import InputError
from core.ingest import load_study
from core.ingest.naming import (
    sequence_from_description,
    sequence_from_folder,
    sequence_from_nifti_name,
    sequence_from_physics,
)
from tests.conftest import write_study


@pytest.mark.parametrize(
    ("text", "expected"),
    [("AX T2 FLAIR", "FLAIR"), ("AX T1 POST GAD", "T1wCE"), ("T1 MPRAGE +C", "T1wCE"), ("sag t1 se", "T1w"),
     ("AX T2 FSE", "T2w"), ("Ax T1 pre", "T1w"), ("DWI b1000", None), ("", None), ("t2_tirm_tra_dark-fluid", "FLAIR")],
)
def test_series_descriptions_name_their_sequence(text: str, expected: str | None) -> None:
    assert sequence_from_description(text) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("BraTS2021_00042_flair.nii.gz", "FLAIR"), ("BraTS2021_00042_t1.nii.gz", "T1w"),
     ("BraTS2021_00042_t1ce.nii.gz", "T1wCE"), ("BraTS2021_00042_t2.nii.gz", "T2w"),
     ("BraTS-GLI-00000-000-t2f.nii.gz", "FLAIR"), ("BraTS-GLI-00000-000-t1n.nii.gz", "T1w"),
     ("BraTS-GLI-00000-000-t1c.nii.gz", "T1wCE"), ("BraTS-GLI-00000-000-t2w.nii.gz", "T2w"),
     ("T1wCE.nii", "T1wCE"), ("BraTS2021_00042_seg.nii.gz", None)],
)
def test_nifti_names_follow_brats_conventions(name: str, expected: str | None) -> None:
    assert sequence_from_nifti_name(name) == expected


def test_folder_aliases() -> None:
    assert [sequence_from_folder(n) for n in ("FLAIR", "t1", "T1-CE", "t2w", "DWI")] == [
        "FLAIR", "T1w", "T1wCE", "T2w", None]


def test_header_physics_decide_when_text_does_not() -> None:
    assert sequence_from_physics(9000, 120, 2500, None) == "FLAIR"
    assert sequence_from_physics(4500, 95, None, None) == "T2w"
    assert sequence_from_physics(500, 12, None, None) == "T1w"
    assert sequence_from_physics(500, 12, None, "GADOLINIUM") == "T1wCE"
    assert sequence_from_physics(None, None, None, None) is None


def _flatten(root: Path, target: Path) -> None:
    """Move every series into one folder with neutral series folder names (as PACS exports do)."""
    for number, folder in enumerate(sorted(p for p in root.iterdir() if p.is_dir()), start=1):
        shutil.move(folder, target / f"SE{number:04d}")


def test_descriptions_identify_series_in_neutral_folders(tmp_path: Path) -> None:
    write_study(tmp_path / "raw")
    (tmp_path / "export").mkdir()
    _flatten(tmp_path / "raw", tmp_path / "export")
    study = load_study(tmp_path / "export")
    assert study["T1wCE"].identified_by == "series description 'AX T1 POST GAD'"
    assert study["FLAIR"].plane == "axial" and study["T1w"].plane == "sagittal"


def test_header_physics_identify_series_without_descriptions(tmp_path: Path) -> None:
    write_study(tmp_path / "raw")
    (tmp_path / "export").mkdir()
    _flatten(tmp_path / "raw", tmp_path / "export")
    for path in (tmp_path / "export").rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        del ds.SeriesDescription, ds.ProtocolName
        ds.save_as(path)
    study = load_study(tmp_path / "export")
    assert all(v.identified_by.startswith("header physics") for v in study.volumes.values())
    assert study["T2w"].plane == "oblique"


def test_two_candidates_for_one_sequence_list_every_series(tmp_path: Path) -> None:
    write_study(tmp_path / "raw")
    (tmp_path / "export").mkdir()
    _flatten(tmp_path / "raw", tmp_path / "export")
    for path in (tmp_path / "export" / "SE0004").iterdir():  # T2w folder, sorted: FLAIR, T1w, T1wCE, T2w
        ds = pydicom.dcmread(path)
        ds.SeriesDescription = "AX T1 POST GAD"
        ds.save_as(path)
    with pytest.raises(InputError) as err:
        load_study(tmp_path / "export")
    message = err.value.user_message
    assert "2 series compete for T1wCE" in message and "no series was recognised as T2w" in message
    for folder in ("SE0001", "SE0002", "SE0003", "SE0004"):
        assert folder in message
    assert "T1wCE" in message and "BraTS 2023" in message
