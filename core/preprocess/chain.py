"""Study -> the network's input: a MONAI chain whose every parameter comes from the model's config.json.

1. one RAS grid of ``input_shape`` voxels of ``spacing_mm``, centred on the head (a fixed field of view, so
   brains keep their physical size); each sequence resampled straight onto it through world coordinates;
2. brain mask: from the data when already skull-stripped (RSNA), else deepbet on T1w (``skull_strip``:
   auto, always or never; ``MGMT_SKULL_STRIP`` forces one for training and serving alike, and the result says
   whether the choice was detected or forced);
3. mask, then channel-wise z-score over brain voxels (as MONAI MaskIntensity + NormalizeIntensity(nonzero=True)
   would, computed directly in float32).
Intensities are taken relative to each series' background level, so a linear rescaling of a series (stored
z-scored, or with an offset) moves neither the grid, the brain mask nor the input.
The intensities, the brain mask, the segmentation and Grad-CAM share this grid's voxels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from core.config import get_settings
from core.ingest.study import Study
from core.parallel import each_sequence
from core.preprocess.brain import foreground_mask, scalp_present, strip_skull
from core.preprocess.grid import Grid, ResampleToGrid, background_level, foreground_centre
from core.preprocess.settings import Preprocessing


@dataclass(frozen=True)
class SkullStripping:
    """What was done about the skull and why: ``reason`` is ``detected`` (auto found a scalp, or none) or
    ``forced`` (the model's config or MGMT_SKULL_STRIP said always or never)."""

    action: str  # "already stripped", "stripped by deepbet" or "kept (skull stripping off)"
    reason: str
    mode: str

    def to_json(self) -> dict[str, str]:
        return {"action": self.action, "reason": self.reason, "mode": self.mode}


@dataclass(frozen=True)
class PreparedStudy:
    """The network input and the intensities it was made from, all on the model grid."""

    image: np.ndarray  # (4, D, H, W) float32, normalised, zero outside the brain
    intensities: np.ndarray  # (4, D, H, W) float32 resampled intensities (relative to each series' background)
    # before masking and normalisation
    brain_mask: np.ndarray  # (D, H, W) bool
    grid: Grid
    sequences: tuple[str, ...]
    skull: SkullStripping
    warnings: tuple[str, ...] = ()
    timings_s: dict[str, float] = field(default_factory=dict)


def skull_mode(config: Preprocessing) -> str:
    """The skull-stripping mode in force: MGMT_SKULL_STRIP when set, else the model's config (the same rule for
    training and serving, so a setting cannot make one differ from the other unseen)."""
    return get_settings().skull_strip or config.skull_strip


def model_grid(study: Study, config: Preprocessing) -> Grid:
    """The grid the network sees, centred on the head."""
    return Grid.centred(foreground_centre(study), config.spacing_mm, config.input_shape)


def relative_to_background(study: Study, name: str, grid: Grid) -> np.ndarray:
    """One sequence on ``grid``, intensities relative to its background level (0 outside the head), so that how the
    series was stored (raw, z-scored, rescaled) does not move the brain mask or the grid."""
    volume = study[name]
    return ResampleToGrid(grid, background=background_level(volume, study.content.get(name)))(volume)


def normalised(intensities: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero outside the brain, then each channel z-scored over its non-zero brain voxels: what MONAI's
    MaskIntensity + NormalizeIntensity(nonzero=True, channel_wise=True) compute, in float32 without their copies."""
    image = np.zeros(intensities.shape, np.float32)
    for channel, values in enumerate(intensities):
        inside = mask & (values != 0)
        if not inside.any():
            continue
        voxels = values[inside]
        mean, std = float(voxels.mean(dtype=np.float64)), float(voxels.std(dtype=np.float64))
        image[channel][inside] = (voxels - np.float32(mean)) / np.float32(std if std > 0 else 1.0)
    return image


def prepare(study: Study, config: Preprocessing) -> PreparedStudy:
    """Resample, mask and normalise a study as the model's config says; a missing sequence is a blank channel.

    A brain too small to be one is not refused here: the quality check ``brain`` measures it and the prediction
    abstains, saying so."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    sequences = config.sequences
    grid = model_grid(study, config)
    def on_grid(name: str) -> np.ndarray:
        """One channel: the sequence on the grid, or a blank channel for a missing one."""
        return relative_to_background(study, name, grid) if name in study.volumes else np.zeros(grid.shape, np.float32)

    intensities = np.stack(each_sequence(on_grid, sequences))
    present = intensities[[i for i, name in enumerate(sequences) if name in study.volumes]]
    timings["resample"] = time.perf_counter() - started
    started = time.perf_counter()
    mask = foreground_mask(present)
    spacing = float(np.mean(config.spacing_mm))
    mode = skull_mode(config)
    warnings = []
    stripper = next(name for name in ("T1w", "T1wCE", *sequences) if name in study.volumes and name in sequences)
    head = ndimage.binary_fill_holes(foreground_mask(present, largest_only=False))
    has_scalp = mode == "always" or (mode == "auto" and scalp_present(head, spacing))
    if has_scalp and mode != "never":
        mask = strip_skull(intensities[sequences.index(stripper)], grid, stripper)
        action = "stripped by deepbet"
        warnings.append(f"The study was not skull-stripped; the brain was extracted with deepbet from {stripper}.")
    else:
        action = "kept (skull stripping off)" if mode == "never" else "already stripped"
    skull = SkullStripping(action, "detected" if mode == "auto" else "forced", mode)
    timings["brain_mask"] = time.perf_counter() - started
    started = time.perf_counter()
    image = normalised(intensities, mask)
    timings["normalise"] = time.perf_counter() - started
    return PreparedStudy(image, intensities, mask, grid, sequences, skull, tuple(warnings), timings)

