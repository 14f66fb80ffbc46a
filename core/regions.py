"""The BraTS tumour labels and the regions made of them, named once for the whole package.

Labels are the values of a BraTS 2021 label map (BraTS 2023 writes enhancing as 3; ingest reads it as 4).
Regions are the overlapping unions BraTS scores, as nnU-Net's BraTS dataset declares them: whole tumour
(1, 2, 4), tumour core (1, 4) and enhancing tumour (4). Synthesis, training masks, Dice, the tumour volumes,
the viewer, the PDF, the DICOM SEG and the SR all name a label or a region from here.

Example:
    >>> [label.name for label in LABELS]
    ['necrotic core', 'oedema', 'enhancing tumour']
    >>> region("core").values
    (1, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TumourLabel:
    """One value of a BraTS label map: its key (in JSON and CSV), its name (for people) and overlay colour."""

    value: int
    key: str
    name: str
    colour: str
    colour_name: str


@dataclass(frozen=True)
class TumourRegion:
    """A union of BraTS labels that is measured and scored as one region."""

    key: str
    name: str
    values: tuple[int, ...]

    def mask(self, labels: np.ndarray) -> np.ndarray:
        """Boolean map of this region in a BraTS label map."""
        return np.isin(labels, self.values)


NECROTIC, OEDEMA, ENHANCING = 1, 2, 4
"""BraTS 2021 label values."""

LABELS: tuple[TumourLabel, ...] = (
    TumourLabel(NECROTIC, "necrotic", "necrotic core", "rgb(65,105,225)", "blue"),
    TumourLabel(OEDEMA, "oedema", "oedema", "rgb(50,205,50)", "green"),
    TumourLabel(ENHANCING, "enhancing", "enhancing tumour", "rgb(255,215,0)", "yellow"),
)
"""The sub-regions a label map holds, in label order."""

REGIONS: tuple[TumourRegion, ...] = (
    TumourRegion("whole", "whole tumour", (NECROTIC, OEDEMA, ENHANCING)),
    TumourRegion("core", "tumour core", (NECROTIC, ENHANCING)),
    TumourRegion("enhancing", "enhancing tumour", (ENHANCING,)),
)
"""The regions BraTS scores (nnU-Net's BraTS regions), largest first."""

MEASURED: tuple[TumourRegion, ...] = (
    *REGIONS,
    TumourRegion("necrotic", "necrotic core", (NECROTIC,)),
    TumourRegion("oedema", "oedema", (OEDEMA,)),
)
"""Everything the tumour report measures: the BraTS regions, then the labels not already among them."""


def label(value: int) -> TumourLabel:
    """The label of a BraTS value; a ValueError names the values that exist."""
    for candidate in LABELS:
        if candidate.value == value:
            return candidate
    raise ValueError(f"BraTS label {value} does not exist; expected one of {[item.value for item in LABELS]}")


def region(key: str) -> TumourRegion:
    """The measured region of a key (``whole``, ``core``, ``enhancing``, ``necrotic``, ``oedema``)."""
    for candidate in MEASURED:
        if candidate.key == key:
            return candidate
    raise ValueError(f"Tumour region '{key}' does not exist; expected one of {[item.key for item in MEASURED]}")
