"""Training data: the labelled cases of a cohort folder (``core.cohort``), preprocessed once and cached on disk.

The cache key is the preprocessing config (its version and parameters) and the bytes of the case's files,
so epochs after the first, and later runs, never re-read DICOM; a changed chain or case is recomputed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.cohort import Case
from core.errors import InputError
from core.ingest import load_study
from core.preprocess import Grid, prepare
from core.preprocess.chain import skull_mode
from core.preprocess.settings import Preprocessing
from core.train.masks import mask_names, mask_on_grid, mask_path


def content_key(folder: Path, config: Preprocessing) -> str:
    """Hash of the preprocessing config (with the skull-stripping mode in force) and every file's path and bytes."""
    in_force = {**config.to_json(), "skull_strip": skull_mode(config)}
    digest = hashlib.sha256(json.dumps(in_force, sort_keys=True).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()[:32]


class TensorCache:
    """Preprocessed network inputs (float16 .npy) under ``root/v<version>/``, with the grid each was put on
    (``-grid.npy``) and, for training with masks, the label map on that grid (``-seg-<mask hash>.npy``)."""

    def __init__(self, root: Path, config: Preprocessing) -> None:
        self.config = config
        self.folder = root / f"v{config.version}"
        self.folder.mkdir(parents=True, exist_ok=True)

    def load(self, case: Case) -> np.ndarray:
        """The case's (4, D, H, W) input, from the cache or computed (and stored) now."""
        path = self._path(case)
        if path.exists() and path.with_name(path.stem + "-grid.npy").exists():
            return np.load(path)
        prepared = prepare(load_study(case.folder), self.config)
        _save(path.with_name(path.stem + "-grid.npy"), prepared.grid.affine)
        image = prepared.image.astype(np.float16)
        _save(path, image)
        return image

    def grid(self, case: Case) -> Grid:
        """The model grid the case's cached input lies on."""
        path = self._path(case)
        grid_file = path.with_name(path.stem + "-grid.npy")
        if not grid_file.exists():
            self.load(case)
        return Grid(np.load(grid_file), self.config.input_shape)

    def segmentation(self, case: Case, masks_dir: Path) -> np.ndarray:
        """The case's BraTS label map (uint8) on its model grid, from ``masks_dir`` (cached); InputError when the
        case has no label file there."""
        label_file = mask_path(masks_dir, case.case_id)
        if label_file is None:
            raise InputError(f"No label file for case {case.case_id} in '{masks_dir}'; expected "
                             f"{mask_names(case.case_id)}.")
        digest = hashlib.sha256(label_file.read_bytes()).hexdigest()[:16]
        path = self._path(case)
        cached = path.with_name(f"{path.stem}-seg-{digest}.npy")
        if cached.exists():
            return np.load(cached)
        labels = mask_on_grid(label_file, self.grid(case))
        _save(cached, labels)
        return labels

    def _path(self, case: Case) -> Path:
        return self.folder / f"{case.case_id}-{content_key(case.folder, self.config)}.npy"


def _save(path: Path, array: np.ndarray) -> None:
    temporary = path.with_suffix(".tmp.npy")
    np.save(temporary, array)
    temporary.replace(path)  # whole files only, even if interrupted


def load_cohort(
    cases: list[Case], cache: TensorCache, progress: Callable[[Case], None] | None = None
) -> tuple[np.ndarray, np.ndarray, list[Case], list[str]]:
    """Inputs and labels of every case that preprocesses; failures listed, not fatal."""
    images, kept, failed = [], [], []
    for case in cases:
        try:
            images.append(cache.load(case))
            kept.append(case)
        except InputError as err:
            failed.append(f"{case.case_id}: {err.user_message.splitlines()[0]}")
        if progress:
            progress(case)
    if not kept:
        raise InputError(f"None of the {len(cases)} cases could be read; first problem: {failed[0]}")
    return np.stack(images), np.array([c.label for c in kept]), kept, failed


def load_segmentations(
    cases: list[Case], cache: TensorCache, masks_dir: Path, progress: Callable[[Case], None] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Label maps (N, D, H, W) uint8 of ``cases`` in order; cases without a readable label file get an all-255
    map (ignored by the segmentation loss) and are listed."""
    maps, missing = [], []
    shape = cache.config.input_shape
    for case in cases:
        try:
            maps.append(cache.segmentation(case, masks_dir))
        except InputError as err:
            maps.append(np.full(shape, 255, np.uint8))
            missing.append(f"{case.case_id}: {err.user_message.splitlines()[0]}")
        if progress:
            progress(case)
    return np.stack(maps), missing
