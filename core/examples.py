"""Example studies for the Predict page: synthetic cases written once by core/synth on first use, then reused.

They are generated, not committed: a few seconds on first use, cached under ``<MGMT_DATA_DIR>/examples``.
The seed (3000) is one the bundled model never saw in training (1000) or held-out evaluation (2000).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings, get_settings
from core.synth.cases import write_case

SEED = 3000


@dataclass(frozen=True)
class Example:
    """One synthetic study: which case of the generator, and what a visitor should know about it."""

    key: str
    title: str
    index: int
    skull: bool
    truth: str


EXAMPLES = {
    example.key: example
    for example in (
        Example("case-3", "Synthetic case 3: skull-stripped", 3, False, "methylated"),
        Example("case-10", "Synthetic case 10: sagittal and oblique series, skull-stripped", 10, False,
                "unmethylated"),
        Example("case-2-skull", "Synthetic case 2: with scalp and skull (stripped by deepbet)", 2, True,
                "methylated"),
    )
}
_lock = threading.Lock()


def example_study(key: str, settings: Settings | None = None) -> Path:
    """The study folder of example ``key`` (``FLAIR/``, ``T1w/``, ``T1wCE/``, ``T2w/`` of DICOM), written if absent."""
    example = EXAMPLES[key]
    settings = settings or get_settings()
    root = settings.data_dir / "examples" / key
    study = root / "train" / f"{example.index:05d}"
    with _lock:
        if study.is_dir():
            return study
        root.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root.parent))
        try:
            write_case(scratch, example.index, seed=SEED, skull=example.skull)
            shutil.rmtree(scratch / "masks", ignore_errors=True)  # the truth stays with the generator
            try:
                scratch.rename(root)  # atomic: another process sees all of it or none
            except OSError:
                if not study.is_dir():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return study


def example_zip(key: str, settings: Settings | None = None) -> bytes:
    """The example study as a .zip (what a visitor can download to try the upload path)."""
    study = example_study(key, settings)
    with tempfile.TemporaryDirectory() as scratch:
        archive = shutil.make_archive(str(Path(scratch) / key), "zip", root_dir=study.parent, base_dir=study.name)
        return Path(archive).read_bytes()
