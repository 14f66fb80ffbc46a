"""The Study: up to four co-registered-in-world MRI sequences with their geometry, and nothing identifying."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core import SEQUENCES
from core.ingest.content import SeriesContent
from core.ingest.geometry import acquisition_plane, axis_codes, voxel_spacing


@dataclass(frozen=True)
class Volume:
    """One sequence as loaded: voxels indexed ``[i, j, k]`` and the 4x4 RAS affine to world mm.

    Intensities are ``array * rescale[0] + rescale[1]``: ``array`` keeps the stored integers when the
    whole series shares one RescaleSlope/Intercept (half the memory of float32; apply ``rescale`` after
    resampling, on fewer voxels), else it is float32 intensities with ``rescale`` (1, 0).
    ``intensities()`` gives float32 intensities whatever the source.
    """

    sequence: str
    array: np.ndarray
    affine: np.ndarray
    source: str
    identified_by: str
    rescale: tuple[float, float] = (1.0, 0.0)
    description: str = ""  # the series' SeriesDescription (no identity), for the identity check against its folder

    def intensities(self) -> np.ndarray:
        """The voxels as float32 intensities, rescale applied (a copy unless already float32 and unscaled)."""
        values = np.asarray(self.array, dtype=np.float32)
        slope, intercept = self.rescale
        if (slope, intercept) != (1.0, 0.0):
            values = values * np.float32(slope) + np.float32(intercept)
        return values

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return voxel_spacing(self.affine)

    @property
    def axcodes(self) -> str:
        return axis_codes(self.affine)

    @property
    def plane(self) -> str:
        return acquisition_plane(self.affine)

    def summary(self) -> dict[str, Any]:
        """What ``inspect`` reports for this sequence (JSON-ready)."""
        return {
            "source": self.source,
            "identified_by": self.identified_by,
            "shape": list(self.shape),
            "n_slices": self.shape[2],
            "spacing_mm": [round(s, 4) for s in self.spacing_mm],
            "affine": np.round(self.affine, 4).tolist(),
            "axcodes": self.axcodes,
            "plane": self.plane,
            "rescale": [self.rescale[0], self.rescale[1]],
        }


@dataclass(frozen=True)
class Study:
    """One patient's study: the usable sequences in ``SEQUENCES`` order (at least one; an absent or blank one is
    missing), a salted hash, warnings, and what each loaded series holds (``content``, blank ones included)."""

    volumes: dict[str, Volume]
    study_hash: str
    warnings: tuple[str, ...] = field(default=())
    content: Mapping[str, SeriesContent] = field(default_factory=dict)

    def __post_init__(self) -> None:
        order = tuple(name for name in SEQUENCES if name in self.volumes)
        if not self.volumes or tuple(self.volumes) != order:
            raise ValueError(f"Study needs one or more of {SEQUENCES} in that order, got {tuple(self.volumes)}")

    @property
    def missing(self) -> tuple[str, ...]:
        """Sequences the study lacks or holds only blank (in ``SEQUENCES`` order)."""
        return tuple(name for name in SEQUENCES if name not in self.volumes)

    def __getitem__(self, sequence: str) -> Volume:
        return self.volumes[sequence]

    def summary(self) -> dict[str, Any]:
        """What ``inspect --json`` prints (JSON-ready, no patient identifiers)."""
        return {
            "study_hash": self.study_hash,
            "sequences": {name: volume.summary() for name, volume in self.volumes.items()},
            "warnings": list(self.warnings),
            "missing": list(self.missing),
        }
