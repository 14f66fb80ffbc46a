"""The source identity ingest hands to the reports: every instance of the series used, and never part of the Study."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom

from core import SEQUENCES
from core.config import get_settings
from core.ingest.loader import read_study_and_identity
from tests.conftest import PATIENT, WrittenSeries


def test_the_identity_lists_every_instance_of_the_series_each_sequence_came_from(
        study_dir: tuple[Path, dict[str, WrittenSeries]]) -> None:
    root, written = study_dir
    study, identity = read_study_and_identity(root, root.name, get_settings())
    assert [series.sequence for series in identity.series] == list(SEQUENCES)
    for series in identity.series:
        headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in written[series.sequence].folder.glob("*.dcm")]
        assert set(series.instance_uids) == {str(h.SOPInstanceUID) for h in headers}
        assert series.series_uid == str(headers[0].SeriesInstanceUID)
    assert identity.study_uid == PATIENT.study_uid
    assert dict(identity.patient_lines())["Patient ID"] == PATIENT.patient_id


def test_the_study_read_beside_the_identity_holds_none_of_it(study_dir: tuple[Path, dict[str, WrittenSeries]]) -> None:
    root, _ = study_dir
    study, identity = read_study_and_identity(root, root.name, get_settings())
    summary = json.dumps(study.summary())
    assert PATIENT.patient_id not in summary and identity.study_uid not in summary
    assert all(series.series_uid not in summary for series in identity.series)


def test_a_nifti_study_has_no_identity(tmp_path: Path) -> None:
    from tests.ingest.test_nifti import BRATS_2021, write_nifti_study

    write_nifti_study(tmp_path / "case", BRATS_2021)
    study, identity = read_study_and_identity(tmp_path / "case", "case", get_settings())
    assert identity is None and tuple(study.volumes) == SEQUENCES
