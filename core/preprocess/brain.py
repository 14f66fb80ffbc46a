"""The brain mask: from the data when the study is already skull-stripped, else from deepbet's trained model."""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from scipy import ndimage

from core.errors import InputError
from core.preprocess.grid import Grid

HEAD_ML = 2500.0
"""Foreground larger than this is a head with scalp and skull, not a stripped brain. Adult brains with their
CSF are about 1.1-1.9 l; heads with scalp 3-4.5 l. Measured on synthetic cases at 2 mm: 1.76-2.16 l stripped,
2.86-3.43 l with scalp and skull."""

_strip_lock = threading.Lock()


def tissue_scale(channel: np.ndarray) -> np.ndarray:
    """A channel (relative to its background, 0 outside the head) mapped to about 0-1: its robust minimum over the
    head to its robust maximum, 0 on the background. Any linear rescaling of the series, even one that left the
    background at 0 and put tissue below it (z-scored over the brain), gives the same map."""
    head = channel[channel != 0]
    if head.size == 0:
        return np.zeros_like(channel)
    low, high = min(0.0, float(np.percentile(head, 0.5))), float(np.percentile(channel, 99.5))
    scaled = (channel - low) / max(high - low, 1e-6 * max(abs(high), abs(low), 1e-30))
    return np.where(channel == 0, np.float32(0), scaled.astype(np.float32))


def foreground_mask(channels: np.ndarray, largest_only: bool = True) -> np.ndarray:
    """Head (or brain) voxels: mean of the channels, each on its ``tissue_scale``, above 0.2 (dark
    fluid on one sequence is bright on another); largest component, holes filled."""
    mask = np.mean([tissue_scale(c) for c in channels], axis=0) > 0.2
    labels, count = ndimage.label(mask)
    if count > 1 and largest_only:
        sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
        mask = labels == (int(np.argmax(sizes)) + 1)
    return ndimage.binary_fill_holes(mask)


def scalp_present(head: np.ndarray, spacing_mm: float) -> bool:
    """True when the foreground (every component, holes filled) is too large to be a stripped brain."""
    return float(head.sum()) * spacing_mm**3 / 1000.0 > HEAD_ML


@lru_cache(maxsize=1)
def _extractor():
    try:
        from deepbet.bet import BrainExtraction
    except ImportError as err:  # pragma: no cover - deepbet is in requirements.txt
        raise RuntimeError("Skull stripping needs deepbet: pip install deepbet==1.0.2") from err
    import torch

    return BrainExtraction(no_gpu=not torch.cuda.is_available())


def strip_skull(t1: np.ndarray, grid: Grid, sequence: str = "T1w") -> np.ndarray:
    """Brain mask of a T1-weighted head on ``grid`` from deepbet's pretrained network (runs on CPU in ~2 s);
    ``sequence`` names the series it was given (T1w, or another when T1w is missing), for messages."""
    import nibabel as nib

    with _strip_lock:  # one shared network; deepbet keeps per-call state (its bounding box) on the object
        try:
            _, mask, _ = _extractor().run(nib.Nifti1Image(np.ascontiguousarray(t1, np.float32), grid.affine))
        except ValueError as err:  # deepbet found no brain to crop around (an empty bounding box)
            raise InputError(f"The skull stripper (deepbet) found no brain in the {sequence} series ({err}); "
                             "expected a T1-weighted image of a head. Check which series was taken as "
                             f"{sequence}.") from err
    return np.asarray(mask.dataobj) > 0
