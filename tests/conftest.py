"""Shared test fixtures: small synthetic studies whose intensity is a known function of world position."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from core import SEQUENCES
from core.ingest import load_study
from core.synth.dicom_writer import PROTOCOLS, PatientHeader, write_series

# The live app server fixture, for every module that starts one; postgres_cluster and postgres_database, a real
# throw-away PostgreSQL server.
pytest_plugins = ("tests.app_server", "tests.pg_server")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("MGMT_DATA_DIR", tempfile.mkdtemp(prefix="mgmt-test-data-"))

SLOWEST_FIRST = (
    "tests/test_deployment.py", "tests/test_app_browser.py", "tests/train/test_train.py",
    "tests/scoring/test_ray_cluster.py", "tests/faults/test_stalled_uploads.py", "tests/test_privacy.py",
    "tests/ingest/test_fuzz.py", "tests/train/test_brats_release.py", "tests/inference/test_predictor.py",
    "tests/model/test_bundled_card.py", "tests/model/test_hub.py", "tests/cli/test_push.py",
    "tests/cli/test_batch.py", "tests/faults/test_shared_log.py", "tests/api/test_server.py", "tests/test_admission.py",
    "tests/faults/test_kill.py", "tests/synth/test_cases.py", "tests/api/test_fuzz.py",
    "tests/preprocess/test_intensity_invariance.py",
)
"""The test files that take longest (seconds summed over their tests, measured with --junitxml), longest first.
The suite runs them first, so that while one worker is on a long file the other takes the many short ones, and
no worker is left alone with a long file at the end (pyproject.toml: --dist loadfile --no-loadscope-reorder keeps
this order)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of SLOWEST_FIRST first, in that order; every other test after them, as collected."""
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))

BRATS_NAMES = {"FLAIR": "flair", "T1w": "t1", "T1wCE": "t1ce", "T2w": "t2"}
"""The BraTS 2021 file-name suffix of each sequence."""
PATIENT = PatientHeader(
    patient_name="TESTPATIENT^SECRETNAME",
    patient_id="PID-SECRET-0042",
    birth_date="19510203",
    sex="F",
    accession_number="ACC-SECRET-77",
    study_uid="1.2.826.0.1.3680043.8.498.1111111111",
)


def field_value(world: np.ndarray, offset: float) -> np.ndarray:
    """The known intensity at RAS world points (N x 3): linear, so any correct geometry reproduces it."""
    world = np.atleast_2d(world)
    return offset + 2.0 * world[:, 0] + 3.0 * world[:, 1] + 5.0 * world[:, 2]


def rotation(plane: str) -> np.ndarray:
    """Columns: RAS directions of the i, j, k array axes of a series acquired in ``plane``."""
    if plane == "axial":  # rows run R->L, columns A->P, slices I->S (the usual DICOM axial, LPS-like)
        return np.array([[-1, 0, 0], [0, -1, 0], [0, 0, 1]], float)
    if plane == "sagittal":  # rows run A->P, columns S->I, slices L->R
        return np.column_stack([[0, -1, 0], [0, 0, -1], [-1, 0, 0]]).astype(float)
    if plane == "coronal":  # rows run R->L, columns S->I, slices P->A
        return np.column_stack([[-1, 0, 0], [0, 0, -1], [0, 1, 0]]).astype(float)
    if plane == "oblique":  # axial tilted 20 degrees about R-L, then 12 about S-I
        a, b = np.radians(20), np.radians(12)
        rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
        return rz @ rx @ rotation("axial")
    raise ValueError(plane)


def series_affine(plane: str, shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> np.ndarray:
    """RAS affine of a series in ``plane`` centred on the world origin."""
    affine = np.eye(4)
    affine[:3, :3] = rotation(plane) * np.asarray(spacing)
    centre = (np.asarray(shape) - 1) / 2.0
    affine[:3, 3] = -affine[:3, :3] @ centre
    return affine


def render(affine: np.ndarray, shape: tuple[int, int, int], offset: float, field=None) -> np.ndarray:
    """A field of world position (default: the known linear one) sampled at every voxel of a grid."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1).reshape(-1, 3)
    world = ijk @ affine[:3, :3].T + affine[:3, 3]
    values = field(world) if field is not None else field_value(world, offset)
    return values.reshape(shape).astype(np.float32)


@dataclass(frozen=True)
class WrittenSeries:
    sequence: str
    affine: np.ndarray
    shape: tuple[int, int, int]
    offset: float
    folder: Path


OFFSETS = {"FLAIR": 1000.0, "T1w": 2000.0, "T1wCE": 3000.0, "T2w": 4000.0}
PLANES = {"FLAIR": "axial", "T1w": "sagittal", "T1wCE": "coronal", "T2w": "oblique"}


def write_study(
    root: Path,
    planes: dict[str, str] | None = None,
    order: str = "shuffled",
    rescale: tuple[float, float] = (0.5, -200.0),
    shape: tuple[int, int, int] = (20, 18, 12),
    spacing: tuple[float, float, float] = (1.5, 1.25, 3.0),
    seed: int = 0,
    patient: PatientHeader = PATIENT,
    field=None,
) -> dict[str, WrittenSeries]:
    """Write a four-sequence RSNA-layout study (``root/<seq>/Image-N.dcm``) of the known (or given) field."""
    rng = np.random.default_rng(seed)
    planes = planes or PLANES
    written = {}
    for number, sequence in enumerate(SEQUENCES, start=1):
        affine = series_affine(planes[sequence], shape, spacing)
        volume = render(affine, shape, OFFSETS[sequence], field)
        write_series(volume, affine, root / sequence, patient=patient, protocol=PROTOCOLS[sequence],
                     series_number=number, rescale=rescale, order=order, rng=rng)
        written[sequence] = WrittenSeries(sequence, affine, shape, OFFSETS[sequence], root / sequence)
    return written


def write_cohort_with_a_broken_case(out: Path) -> Path:
    """Four synthetic cases (seed 11) plus a labelled fifth whose folder holds no image, written into ``out``."""
    from core.synth.cases import write_cohort

    write_cohort(out, 4, seed=11)
    (out / "train" / "00004" / "FLAIR").mkdir(parents=True)
    (out / "train" / "00004" / "FLAIR" / "notes.txt").write_text("scan cancelled")
    with open(out / "train_labels.csv", "a") as labels:
        labels.write("4,1\n")
    return out


@pytest.fixture(scope="session")
def synthetic_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small synthetic brain study the bundled model accepts (case 3 of seed 5, RSNA layout
    ``<case>/{FLAIR,T1w,T1wCE,T2w}/Image-N.dcm``, fake patient names in the headers), written once per test
    session. Tests read it and never change it."""
    from core.synth.cases import write_case

    out = tmp_path_factory.mktemp("synthetic-case")
    return out / "train" / write_case(out, 3, seed=5).case_id


@pytest.fixture(scope="session")
def bases(tmp_path_factory: pytest.TempPathFactory, synthetic_case: Path) -> dict[str, Path]:
    """The study every mutant starts from (copied, never changed), in DICOM and (exported from it) as four
    BraTS-named NIfTI files."""
    out = tmp_path_factory.mktemp("fuzz-base")
    dicom = synthetic_case
    nifti = out / "nifti" / "BraTS2021_00003"
    nifti.mkdir(parents=True)
    study = load_study(dicom)
    for sequence in SEQUENCES:
        volume = study[sequence]
        nib.save(nib.Nifti1Image(volume.intensities(), volume.affine),
                 nifti / f"BraTS2021_00003_{BRATS_NAMES[sequence]}.nii.gz")
    return {"dicom": dicom, "nifti": nifti}


@pytest.fixture
def study_dir(tmp_path: Path) -> tuple[Path, dict[str, WrittenSeries]]:
    """A small four-plane study with shuffled InstanceNumbers and rescaled pixels."""
    root = tmp_path / "00042"
    return root, write_study(root)
