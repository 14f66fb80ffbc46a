"""How a study on a RAS grid is shown, wherever it is shown (the page's viewer, the PDF's key slices): the three
planes and the patient directions at their edges, the Grad-CAM colours and floor, and where the cursor starts.

Views follow the radiological convention: the patient's right on the viewer's left, anterior on the left in
sagittal. Grid axes are RAS (i: towards the right, j: anterior, k: superior), as ``core.preprocess.grid.Grid``
defines.

Example:
    >>> [(plane.name, plane.cut, plane.horizontal, plane.vertical) for plane in PLANES]
    [('axial', 2, 0, 1), ('coronal', 1, 0, 2), ('sagittal', 0, 1, 2)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Plane:
    """A view: the grid axis it cuts and the patient directions at its image's left, right, top and bottom."""

    name: str
    cut: int
    edges: tuple[str, str, str, str]

    @property
    def horizontal(self) -> int:
        """The grid axis the image's columns run along."""
        return [axis for axis in range(3) if axis != self.cut][0]

    @property
    def vertical(self) -> int:
        """The grid axis the image's rows run along (bottom to top)."""
        return [axis for axis in range(3) if axis != self.cut][1]


PLANES = (
    Plane("axial", 2, ("R", "L", "A", "P")),
    Plane("coronal", 1, ("R", "L", "S", "I")),
    Plane("sagittal", 0, ("A", "P", "S", "I")),
)
"""The three planes, in the order they are shown."""

CAM_FLOOR = 0.2
"""Grad-CAM values below this are left transparent, so the anatomy stays readable."""
CAM_COLOURS = ((255, 255, 204), (255, 237, 160), (254, 217, 118), (254, 178, 76), (253, 141, 60), (252, 78, 42),
               (227, 26, 28), (189, 0, 38), (128, 0, 38))
"""Grad-CAM colours from the floor to 1 (ColorBrewer YlOrRd): light yellow for weak evidence, dark red strongest."""


def mask_centre_mm(mask: np.ndarray, affine: np.ndarray) -> np.ndarray | None:
    """World position (mm) of a boolean map's centre of mass on the grid of ``affine``; None when it is empty."""
    voxels = np.argwhere(mask)
    if not len(voxels):
        return None
    return affine[:3, :3] @ voxels.mean(axis=0) + affine[:3, 3]


def cursor_start(affine: np.ndarray, shape: tuple[int, ...], cam: np.ndarray | None, brain_mask: np.ndarray | None,
                 tumour_centre_mm: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Where the planes first cut (world mm) and what that point is: the tumour centre when the segmentation found
    one, else the Grad-CAM peak inside the brain, else the grid centre (``cam`` and ``brain_mask`` on the grid)."""
    if tumour_centre_mm is not None:
        return np.asarray(tumour_centre_mm, float), "tumour centre"
    if cam is not None:
        inside = cam * brain_mask if brain_mask is not None else cam
        if float(inside.max()) > 0:
            peak = np.unravel_index(int(np.argmax(inside)), inside.shape)
            return affine[:3, :3] @ np.asarray(peak, float) + affine[:3, 3], "Grad-CAM peak"
    return affine[:3, :3] @ ((np.asarray(shape, float) - 1) / 2.0) + affine[:3, 3], "grid centre"
