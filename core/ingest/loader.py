"""Any upload of one study (folder, zip, files, NIfTI) to a de-identified Study of up to four sequences."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from core import SEQUENCES
from core.config import Settings, get_settings, study_salt
from core.errors import InputError
from core.ingest.content import SeriesContent
from core.ingest.dicom_files import DicomSeries, FolderScan, check_one_study, scan_folder
from core.ingest.dicom_volume import load_series_volume
from core.ingest.gc_pause import collector_paused
from core.ingest.identity import SourceIdentity, identity_of
from core.ingest.naming import (
    Evidence,
    assign_sequences,
    sequence_from_description,
    sequence_from_folder,
    sequence_from_nifti_name,
    sequence_from_physics,
)
from core.ingest.nifti import load_nifti_volume
from core.ingest.staging import UploadedFile, staged
from core.ingest.study import Study, Volume
from core.ingest.study_size import check_study_size, dicom_shape, nifti_shape
from core.parallel import each_sequence

MASK_WORDS = ("_seg", "-seg", "mask", "label")
"""NIfTI names that hold segmentations, not images (BraTS ``*_seg.nii.gz``), and are passed over."""


def study_hash(salt: bytes, *parts: str | bytes) -> str:
    """A salted, irreversible key of a study (for de-duplication only)."""
    digest = hashlib.sha256(salt)
    for part in parts:
        digest.update(b"\0" + (part.encode() if isinstance(part, str) else part))
    return digest.hexdigest()[:24]


def load_study(source: Path | str | Sequence[UploadedFile], settings: Settings | None = None) -> Study:
    """Read one study from a folder, a .zip of one, or uploaded files; staging is removed afterwards."""
    settings = settings or get_settings()
    shown = source_name(source)
    with staged(source, settings) as folder, collector_paused():
        return read_study_folder(folder, shown, settings)


def source_name(source: Path | str | Sequence[UploadedFile]) -> str:
    """How messages name a study source: the folder's or file's name, or "upload" for uploaded files."""
    return Path(source).name if isinstance(source, str | Path) else "upload"


def read_study_folder(folder: Path, shown: str, settings: Settings) -> Study:
    """Read the study in an (already staged) folder of DICOM or NIfTI files."""
    return read_study_and_identity(folder, shown, settings)[0]


def read_study_and_identity(folder: Path, shown: str, settings: Settings) -> tuple[Study, SourceIdentity | None]:
    """The study, and the source's identity for a report that must carry it (None for NIfTI): the identity stays
    out of the Study, and the caller drops it with the request."""
    scan = scan_folder(folder, shown)
    warnings = []
    if scan.passed_over:
        listed = ", ".join(scan.passed_over[:5]) + (" ..." if len(scan.passed_over) > 5 else "")
        warnings.append(f"Passed over {len(scan.passed_over)} file(s) that hold no image: {listed}")
    if scan.series and _image_niftis(scan):
        raise InputError(f"'{shown}' holds both DICOM series ({len(scan.series)}) and NIfTI images "
                         f"({len(_image_niftis(scan))}); expected one study in one format. Upload one or the other.")
    if scan.series:
        return _dicom_study(scan, folder, settings, warnings)
    return _nifti_study(scan, folder, settings, warnings), None


def _image_niftis(scan: FolderScan) -> list[Path]:
    return [p for p in scan.nifti if not any(word in p.name.lower() for word in MASK_WORDS)]


def _nifti_study(scan: FolderScan, folder: Path, settings: Settings, warnings: list[str]) -> Study:
    files = _image_niftis(scan)
    if len(files) < len(scan.nifti):
        warnings.append(f"Passed over {len(scan.nifti) - len(files)} segmentation/mask NIfTI file(s).")
    evidence = []
    for path in files:
        sequence = sequence_from_nifti_name(path.name)
        if sequence:
            evidence.append(Evidence(path, sequence, 1, f"file name '{path.name}'"))
    listing = [f"'{p.relative_to(folder).as_posix()}' -> {sequence_from_nifti_name(p.name) or 'not recognised'}"
               for p in files]
    chosen = assign_sequences(evidence, listing, lambda p: f"'{p.relative_to(folder).as_posix()}'")
    check_study_size({name: nifti_shape(chosen[name].candidate) for name in chosen}, folder.name, settings)
    digest = hashlib.sha256()
    volumes = {}
    for sequence in (name for name in SEQUENCES if name in chosen):
        path = chosen[sequence].candidate
        shown = path.relative_to(folder).as_posix()
        array, affine = load_nifti_volume(path, shown, settings)
        digest.update(hashlib.sha256(path.read_bytes()).digest())
        volumes[sequence] = Volume(sequence, array, affine, source=f"NIfTI '{path.name}'",
                                   identified_by=chosen[sequence].reason)
    return _usable_study(volumes, study_hash(study_salt(settings), digest.digest()), warnings, folder.name)


def _usable_study(loaded: dict[str, Volume], key: str, warnings: list[str], shown: str) -> Study:
    """The study of the loaded series that hold an image; blank ones are measured, named and left out (the model
    predicts without them); InputError when none is left."""
    content = {name: SeriesContent.measure(volume.array) for name, volume in loaded.items()}
    volumes = {name: volume for name, volume in loaded.items() if not content[name].blank}
    if not volumes:
        found = "; ".join(f"{name} from {volume.source}: {content[name].dominant_fraction:.1%} of its voxels equal "
                          f"{content[name].dominant_value:g}" for name, volume in loaded.items())
        raise InputError(f"'{shown}' has no usable sequence: every series found is blank ({found}); expected at "
                         f"least one of {', '.join(SEQUENCES)} holding an image.")
    missing = [name for name in SEQUENCES if name not in volumes]
    if missing:
        them = "it" if len(missing) == 1 else "them"
        warnings.append(f"No usable {', '.join(missing)} series (absent or blank): a prediction is made without "
                        f"{them}, telling the model so, and its interval is as wide as that makes it.")
    return Study(volumes, key, tuple(warnings), content)


def _series_evidence(series: DicomSeries) -> Evidence[DicomSeries] | None:
    sequence = sequence_from_folder(series.folder_name)
    if sequence:
        return Evidence(series, sequence, 0, f"folder name '{series.folder_name}'")
    sequence = sequence_from_description(series.description)
    if sequence:
        return Evidence(series, sequence, 2, f"series description '{series.description}'")
    first = series.slices[0]
    number = lambda keyword: (first.float_tuple(keyword) or (None,))[0]  # noqa: E731
    agent = str(first.dataset.get("ContrastBolusAgent", "") or "").strip() or None
    sequence = sequence_from_physics(number("RepetitionTime"), number("EchoTime"), number("InversionTime"), agent)
    if sequence:
        return Evidence(series, sequence, 3, "header physics (TR/TE/TI, contrast agent)")
    return None


def _dicom_study(scan: FolderScan, folder: Path, settings: Settings,
                 warnings: list[str]) -> tuple[Study, SourceIdentity | None]:
    candidates = []
    for series in sorted(scan.series, key=lambda s: (s.folder, s.description)):
        reason = series.why_skipped()
        if reason:
            warnings.append(f"Skipped the {series.label()}: {reason}.")
        else:
            candidates.append(series)
    if not candidates:
        raise InputError(f"'{folder.name}' holds only localizers or derived images; expected the FLAIR, T1w, "
                         "T1wCE and T2w series of one study.")
    check_one_study(candidates)
    evidence = [e for e in map(_series_evidence, candidates) if e is not None]
    recognised = {id(e.candidate): e for e in evidence}
    listing = [
        f"{s.label()} -> " + (f"{recognised[id(s)].sequence} (by {recognised[id(s)].reason})"
                              if id(s) in recognised else "not recognised")
        for s in candidates
    ]
    chosen = assign_sequences(evidence, listing, lambda s: s.label())
    used = {id(e.candidate) for e in chosen.values()}
    for series in candidates:
        if id(series) not in used:
            warnings.append(f"Not used: the {series.label()}.")
    check_study_size({name: dicom_shape(chosen[name].candidate) for name in chosen}, folder.name, settings)
    sequences = [name for name in SEQUENCES if name in chosen]
    built = each_sequence(lambda name: load_series_volume(chosen[name].candidate, settings), sequences)
    volumes = {}
    for sequence, loaded in zip(sequences, built, strict=True):
        series = chosen[sequence].candidate
        warnings.extend(loaded.warnings)
        described = f", '{series.description}'" if series.description else ""
        volumes[sequence] = Volume(sequence, loaded.array, loaded.affine,
                                   source=f"{series.folder_name}/ ({len(series.slices)} files{described})",
                                   identified_by=chosen[sequence].reason, rescale=loaded.rescale,
                                   description=series.description)
    first = candidates[0].first
    key = study_hash(study_salt(settings), str(first.get("PatientID", "")), str(first.get("StudyInstanceUID", "")))
    study = _usable_study(volumes, key, warnings, folder.name)
    identity = identity_of({sequence: chosen[sequence].candidate for sequence in study.volumes})
    return study, identity
