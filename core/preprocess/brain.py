"""The brain mask: from the data when the study is already skull-stripped, else from deepbet's trained model."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from scipy import ndimage

from core.preprocess.grid import Grid

SHELL_MM = 4.0
"""Thickness of the outer layer of the head whose T1 brightness tells scalp fat from brain surface."""
SCALP_RATIO = 0.9
"""Outer layer brighter than this fraction of the interior median on T1w: scalp is present, not stripped."""

_strip_lock = threading.Lock()


def foreground_mask(channels: np.ndarray) -> np.ndarray:
    """Head (or brain) voxels: any channel above 10% of its robust maximum; largest component, holes filled."""
    scaled = [c / max(float(np.percentile(c, 99.5)), 1e-6) for c in channels]
    mask = np.max(scaled, axis=0) > 0.1
    labels, count = ndimage.label(mask)
    if count > 1:
        sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
        mask = labels == (int(np.argmax(sizes)) + 1)
    return ndimage.binary_fill_holes(mask)


def scalp_present(t1: np.ndarray, mask: np.ndarray, spacing_mm: float) -> bool:
    """True when the outer shell of the foreground is bright on T1 (scalp fat), as in heads not yet stripped."""
    depth = ndimage.distance_transform_edt(mask) * spacing_mm
    shell = mask & (depth <= SHELL_MM)
    interior = mask & (depth > 3 * SHELL_MM)
    if shell.sum() < 100 or interior.sum() < 100:
        return False
    return float(np.mean(t1[shell])) > SCALP_RATIO * float(np.median(t1[interior]))


@lru_cache(maxsize=1)
def _extractor():
    try:
        from deepbet.bet import BrainExtraction
    except ImportError as err:  # pragma: no cover - deepbet is in requirements.txt
        raise RuntimeError("Skull stripping needs deepbet: pip install deepbet==1.0.2") from err
    import torch

    return BrainExtraction(no_gpu=not torch.cuda.is_available())


def strip_skull(t1: np.ndarray, grid: Grid) -> np.ndarray:
    """Brain mask of a T1-weighted head on ``grid`` from deepbet's pretrained network (runs on CPU in ~2 s)."""
    import nibabel as nib

    with _strip_lock:  # one shared network; deepbet keeps per-call state (its bounding box) on the object
        _, mask, _ = _extractor().run(nib.Nifti1Image(np.ascontiguousarray(t1, np.float32), grid.affine))
    return np.asarray(mask.dataobj) > 0
