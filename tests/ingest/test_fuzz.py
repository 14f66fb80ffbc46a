"""Fuzzing ingest: mutated studies only ever raise InputError, in ``load_study`` and through the bundled model.

A seeded mutator damages a small synthetic study the way uploads get damaged: files truncated at any offset, bytes
flipped in DICOM headers and pixels and in NIfTI headers, tags deleted or given hostile values, slices duplicated or
dropped, folders nested or renamed, NIfTI garbage mixed in, zip entries shuffled and renamed, central directories,
entry data and archives cut short. Each mutant keeps its recipe; a failure lists the seed and the recipes, and
``FUZZ_SEED=<seed> pytest tests/ingest/test_fuzz.py`` replays the run (``FUZZ_MUTANTS``: how many). The REST API
gets the first of the same mutants in tests/api/test_fuzz.py.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import shutil
import struct
import threading
import time
import traceback
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import pydicom
import pytest
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_file_meta_info

from core.config import get_settings
from core.errors import InputError
from core.ingest import UploadedFile, load_study
from core.service import Service
from core.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]  # damaged files make pydicom and numpy warn
SEED = int(os.environ.get("FUZZ_SEED", "20250611"))
MUTANTS = int(os.environ.get("FUZZ_MUTANTS", "150"))
PREDICTIONS = 12
"""Mutants that ingest go on through the bundled model, up to this many (each costs about half a second)."""
MUTANT_TIMEOUT_S = 30.0
ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
               zipfile.ZIP_LZMA)
"""Mostly the cheap methods: a fuzz run writes a hundred archives."""
NIFTI_NAMES = {"FLAIR": "flair", "T1w": "t1", "T1wCE": "t1ce", "T2w": "t2"}
DELETED_TAGS = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns", "BitsAllocated",
                "BitsStored", "PixelRepresentation", "SamplesPerPixel", "PhotometricInterpretation", "PixelData",
                "SeriesInstanceUID", "StudyInstanceUID", "PatientID", "Modality", "RescaleSlope", "SeriesDescription",
                "TransferSyntaxUID")
HOSTILE_VALUES: dict[str, list] = {
    "ImagePositionPatient": [[0.0, 0.0], ["nan", 0, 0], [1e300, 0, 0], [0, 0, 0, 0], "x\\y\\z"],
    "ImageOrientationPatient": [[0] * 6, [1, 0, 0, 1, 0, 0], [1, 0, 0], ["inf", 0, 0, 0, 1, 0], [1, 0, 0, 0, 1, "nan"]],
    "PixelSpacing": [[0, 0], [-1, 1], [1.0], ["nan", "nan"], [1e300, 1e300], [1e-300, 1e-300], [1e5, 1e5]],
    "Rows": [0, 1, 65535], "Columns": [0, 3, 65535],
    "BitsAllocated": [0, 1, 8, 12, 32], "BitsStored": [0, 8, 17], "HighBit": [0, 31], "PixelRepresentation": [1, 7],
    "SamplesPerPixel": [0, 3], "NumberOfFrames": [0, 2, 1000], "PhotometricInterpretation": ["RGB", "PALETTE COLOR"],
    "RescaleSlope": [0, "nan", "inf", 1e300, "abc"], "RescaleIntercept": ["-inf", 1e300],
    "RepetitionTime": ["abc", "nan", -1], "EchoTime": ["1e999", ""], "InversionTime": ["x"],
    "SeriesDescription": ["", "AX T1 POST GAD", "FLAIR T2 T1"], "ImageType": ["LOCALIZER", ""],
    "SOPClassUID": ["1.2.840.10008.5.1.4.1.1.7"], "StudyInstanceUID": [""], "SeriesInstanceUID": ["", "1.2.3"],
    "TransferSyntaxUID": ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5", "1.2.3.4",
                          "1.2.840.10008.1.2.1.99"],
}


@dataclass
class Mutant:
    """A damaged copy of a study and how it was damaged; delivered as a folder, a zip, or uploaded files."""

    number: int
    folder: Path
    delivery: str = "folder"
    archive: bytes | None = None
    recipe: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.recipe.append(text)

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file())

    def uploaded(self) -> list[tuple[str, bytes]]:
        """Each file's path relative to the study folder, and its bytes (as a browser sends a folder)."""
        return [(p.relative_to(self.folder).as_posix(), p.read_bytes()) for p in self.files()]

    def source(self) -> Path | list[UploadedFile]:
        """What ``load_study`` and ``Service.predict`` get: the folder, a zip file, or the files as uploaded."""
        if self.delivery == "folder":
            return self.folder
        if self.delivery == "files":
            return [UploadedFile(name, content) for name, content in self.uploaded()]
        path = self.folder.parent / f"{self.folder.name}.zip"
        path.write_bytes(self.archive or b"")
        return path

    def upload(self) -> list[tuple[str, tuple[str, bytes]]]:
        """The multipart parts of ``POST /api/predict``: the files, or the zip (a folder is zipped as it is)."""
        if self.delivery == "files":
            return [("files", part) for part in self.uploaded()]
        return [("study", ("study.zip", self.archive if self.archive is not None else zipped(self.folder)))]

    def __str__(self) -> str:
        return f"mutant {self.number} ({self.delivery}): " + "; ".join(self.recipe or ["unchanged"])


def zipped(folder: Path, rng: random.Random | None = None, rename: bool = False) -> bytes:
    """``folder`` as a zip under its own name; with ``rng`` the entries are shuffled (and renamed) and compressed."""
    paths = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    method = zipfile.ZIP_STORED
    if rng is not None:
        rng.shuffle(paths)
        method = rng.choice(ZIP_METHODS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method, compresslevel=1) as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        for number, path in enumerate(paths):
            name = f"{folder.name}/{path.relative_to(folder).as_posix()}"
            if rename:
                name = rng.choice([f"x/{number:04x}", f"{path.parent.name}/{number}.bin", f"ü ñ/{path.name}",
                                   name.upper(), f"{folder.name}/{path.name}", folder.name])
            entry = zipfile.ZipInfo(name, date_time=(2021, 7, 15, 10, 15, 0))  # fixed, so a seed gives one archive
            entry.compress_type = method
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def _dicom_files(mutant: Mutant) -> list[Path]:
    return [p for p in mutant.files() if p.suffix == ".dcm"] or mutant.files()


def _series(rng: random.Random, mutant: Mutant) -> list[Path]:
    folders = sorted({p.parent for p in _dicom_files(mutant)})
    return sorted(p for p in rng.choice(folders).iterdir() if p.is_file()) if folders else []


def _rewrite(path: Path, change: Callable[[pydicom.Dataset], None]) -> None:
    """Read, change and save one DICOM file (left as it is when already too damaged for pydicom)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
            change(ds)
            ds.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)
    except Exception:  # a file damaged by an earlier mutation: leave it as it is
        return


def _set_transfer_syntax(path: Path, uid: str | None) -> None:
    """Rewrite the file meta with another (or no) TransferSyntaxUID, leaving the dataset bytes as they are."""
    data = path.read_bytes()
    try:
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
    except Exception:  # a file damaged by an earlier mutation: leave it as it is
        return
    if uid is None:
        meta.pop("TransferSyntaxUID", None)
    else:
        meta.TransferSyntaxUID = uid
    buffer = DicomBytesIO()
    write_file_meta_info(buffer, meta, enforce_standard=False)
    path.write_bytes(data[:132] + buffer.getvalue() + data[144 + struct.unpack("<I", data[140:144])[0]:])


def _pixel_offset(path: Path) -> int | None:
    try:
        ds = pydicom.dcmread(path, defer_size=256)
        return int(ds.get_item("PixelData", keep_deferred=True).value_tell)
    except Exception:  # a file damaged by an earlier mutation: flip anywhere
        return None


def truncate_file(rng: random.Random, mutant: Mutant) -> None:
    path = rng.choice(mutant.files())
    data = path.read_bytes()
    cut = rng.randrange(len(data) + 1)
    path.write_bytes(data[:cut])
    mutant.note(f"cut {path.relative_to(mutant.folder)} to {cut} of {len(data)} bytes")


def flip_bytes(rng: random.Random, mutant: Mutant) -> None:
    path = rng.choice(_dicom_files(mutant))
    data = bytearray(path.read_bytes())
    pixels = _pixel_offset(path) or len(data)
    region = rng.choice(["header", "pixels"])
    low, high = (0, pixels) if region == "header" else (pixels, len(data))
    for _ in range(rng.randint(1, 8) if high > low else 0):
        data[rng.randrange(low, high)] ^= rng.randrange(1, 256)
    path.write_bytes(bytes(data))
    mutant.note(f"flipped {region} bytes of {path.relative_to(mutant.folder)}")


def change_tag(rng: random.Random, mutant: Mutant) -> None:
    """Delete a tag, or give it a hostile value, in one file or in every file of a series."""
    if rng.random() < 0.5:
        keyword, value = rng.choice(DELETED_TAGS), None
    else:
        keyword = rng.choice(sorted(HOSTILE_VALUES))
        value = rng.choice(HOSTILE_VALUES[keyword])
    series = _series(rng, mutant)
    targets = series if rng.random() < 0.5 else series[:1]
    for path in targets:
        if keyword == "TransferSyntaxUID":
            _set_transfer_syntax(path, value)
        elif value is None:
            _rewrite(path, lambda ds: ds.pop(keyword, None))
        else:
            _rewrite(path, lambda ds: setattr(ds, keyword, value))
    change = f"deleted {keyword}" if value is None else f"set {keyword}={value!r}"
    mutant.note(f"{change} in {len(targets)} file(s) of {series[0].parent.name if series else '-'}")


def duplicate_or_drop_slices(rng: random.Random, mutant: Mutant) -> None:
    series = _series(rng, mutant)
    if not series:
        return
    count = rng.randint(1, len(series))
    if rng.random() < 0.5:
        for number, path in enumerate(rng.sample(series, min(count, 3))):
            shutil.copy(path, path.with_name(f"copy{number}-{path.name}"))
        mutant.note(f"duplicated {min(count, 3)} slice(s) of {series[0].parent.name}")
    else:
        for path in rng.sample(series, count):
            path.unlink()
        mutant.note(f"dropped {count} of {len(series)} slices of {series[0].parent.name}")


def move_folders(rng: random.Random, mutant: Mutant) -> None:
    folders = sorted(p for p in mutant.folder.iterdir() if p.is_dir())
    if not folders:
        return
    folder = rng.choice(folders)
    target = rng.choice([mutant.folder / "a" / "b" / "c" / folder.name, mutant.folder / f"series-{rng.randrange(99)}",
                         mutant.folder / "x" / "DICOM"])
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() and folder not in target.parents:
        folder.rename(target)
        mutant.note(f"moved {folder.name}/ to {target.relative_to(mutant.folder)}/")


def nifti_garbage(rng: random.Random, mutant: Mutant) -> None:
    name = rng.choice(["case_flair.nii.gz", "T1w.nii", "x_seg.nii.gz", "BraTS2021_00003_t2.nii.gz", "mask.nii"])
    path = mutant.folder / rng.choice(["", "FLAIR"]) / name
    header = nib.Nifti1Header()
    header.set_data_shape((rng.randint(0, 9), rng.randint(0, 9), rng.randint(0, 9)))
    payload = rng.choice([rng.randbytes(rng.randint(0, 4096)), header.binaryblock + rng.randbytes(rng.randint(0, 64))])
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0) if name.endswith(".gz") and rng.random() < 0.7 else payload)
    mutant.note(f"added NIfTI garbage {path.relative_to(mutant.folder)} ({len(payload)} bytes)")


def flip_nifti_header(rng: random.Random, mutant: Mutant) -> None:
    images = [p for p in mutant.files() if p.name.endswith(".nii.gz")]
    if not images:
        return
    path = rng.choice(images)
    try:
        data = bytearray(gzip.decompress(path.read_bytes()))
    except (OSError, EOFError):
        return
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(0, min(352, len(data)))] ^= rng.randrange(1, 256)
    path.write_bytes(gzip.compress(bytes(data), compresslevel=1, mtime=0))
    mutant.note(f"flipped NIfTI header bytes of {path.name}")


FOLDER_MUTATIONS = (truncate_file, flip_bytes, change_tag, change_tag, change_tag, change_tag, duplicate_or_drop_slices,
                    move_folders, nifti_garbage)
NIFTI_MUTATIONS = (truncate_file, flip_nifti_header, flip_nifti_header, nifti_garbage, move_folders)


def damage_zip(rng: random.Random, archive: bytes, mutant: Mutant) -> bytes:
    """One of: flipped central directory bytes, flipped entry bytes, or the archive cut short."""
    data = bytearray(archive)
    end = archive.rfind(b"PK\x05\x06")
    directory = struct.unpack("<I", archive[end + 16:end + 20])[0] if 0 <= end <= len(archive) - 22 else 0
    directory = min(directory, len(data) - 1)
    kind = rng.choice(["central directory", "entry data", "cut"])
    if kind == "cut" or len(data) < 2:
        cut = rng.randrange(len(data) + 1)
        mutant.note(f"cut the zip to {cut} of {len(data)} bytes")
        return bytes(data[:cut])
    low, high = (directory, len(data)) if kind == "central directory" else (0, max(directory, 1))
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(low, high)] ^= rng.randrange(1, 256)
    mutant.note(f"flipped {kind} bytes of the zip")
    return bytes(data)


def make_mutant(rng: random.Random, number: int, bases: dict[str, Path], scratch: Path) -> Mutant:
    """A fresh copy of the DICOM (mostly) or NIfTI study, damaged by 0-3 folder and 0-2 zip mutations."""
    kind = "nifti" if rng.random() < 0.2 else "dicom"
    mutant = Mutant(number, scratch / f"{number:03d}" / bases[kind].name)
    shutil.copytree(bases[kind], mutant.folder)
    for _ in range(rng.randint(0, 3)):
        rng.choice(NIFTI_MUTATIONS if kind == "nifti" else FOLDER_MUTATIONS)(rng, mutant)
    mutant.delivery = rng.choice(["folder", "files", "zip", "zip"]) if mutant.recipe else "zip"
    if mutant.delivery == "zip":
        rename = rng.random() < 0.3
        mutant.archive = zipped(mutant.folder, rng, rename)
        mutant.note("zipped, entries shuffled" + (" and renamed" if rename else ""))
        for _ in range(rng.randint(0 if len(mutant.recipe) > 1 else 1, 2)):
            mutant.archive = damage_zip(rng, mutant.archive, mutant)
    return mutant


def mutants(seed: int, count: int, bases: dict[str, Path], scratch: Path) -> Iterator[Mutant]:
    """The first ``count`` mutants of ``seed``, made one at a time under ``scratch``."""
    rng = random.Random(seed)
    for number in range(count):
        yield make_mutant(rng, number, bases, scratch)


def bounded(call: Callable[[], object], timeout: float) -> object:
    """``call()`` in a thread: its result, or the exception it raised, or a TimeoutError when it did not finish."""
    result: list = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as err:  # handed to the caller, who judges it
            result.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    return result[0] if result else TimeoutError(f"no answer within {timeout:.0f} s (hung?)")


def test_mutated_studies_only_ever_raise_input_error(bases: dict[str, Path], tmp_path: Path) -> None:
    service = Service(store=Store(tmp_path / "log.duckdb"), import_cohort=False).start(background=False)
    settings = get_settings()
    failures, counts, started = [], {"ingested": 0, "rejected": 0, "predicted": 0}, time.perf_counter()
    for mutant in mutants(SEED, MUTANTS, bases, tmp_path / "mutants"):
        outcome = bounded(lambda m=mutant: load_study(m.source(), settings), MUTANT_TIMEOUT_S)
        if not isinstance(outcome, BaseException):
            counts["ingested"] += 1
            if counts["predicted"] < PREDICTIONS:
                counts["predicted"] += 1
                outcome = bounded(lambda m=mutant: service.predict(m.source(), log=False, with_cam=False),
                                  MUTANT_TIMEOUT_S)
        if isinstance(outcome, InputError):
            counts["rejected"] += 1
            if not outcome.user_message.strip():
                failures.append(f"{mutant}\n  InputError without a message")
        elif isinstance(outcome, BaseException):
            trace = "".join(traceback.format_exception(outcome)[-6:])
            failures.append(f"{mutant}\n  {type(outcome).__name__}: {outcome}\n{trace}")
        shutil.rmtree(mutant.folder.parent)
    print(f"fuzz seed {SEED}: {MUTANTS} mutants in {time.perf_counter() - started:.1f} s; {counts}")
    assert not failures, f"FUZZ_SEED={SEED}: {len(failures)} mutant(s) escaped InputError:\n" + "\n".join(failures)
    assert counts["rejected"] and counts["ingested"], f"the mutator should both break and spare studies: {counts}"
