"""Three key slices for a report: axial, coronal and sagittal through one point, with the segmentation outline (or
the Grad-CAM map) on top.

The point is where the page's viewer starts (``core.views.cursor_start``: the tumour centre, else the Grad-CAM peak
inside the brain, else the grid centre); planes, edge directions, Grad-CAM colours and floor are ``core.views``', and
the sequence's display window is the page's (``core.preprocess.display.intensity_window``). Drawn with numpy and
Pillow: no plotting library.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.preprocess.display import intensity_window
from core.regions import LABELS
from core.views import CAM_COLOURS, CAM_FLOOR, PLANES, cursor_start

SHOWN_SEQUENCE = ("T1wCE", "FLAIR", "T2w", "T1w")
"""The sequence the slices show: the first present (contrast-enhanced T1 shows the enhancing tumour best)."""
CAM_OPACITY = 0.6
"""Opacity of the map's strongest values; weaker ones fade in from the floor."""
PIXELS = 240
"""Side of each rendered image, in pixels."""
OUTLINE_RGB = {label.value: tuple(int(c) for c in label.colour[4:-1].split(",")) for label in LABELS}
"""Outline colour of each BraTS label (the page's overlay colours)."""


@dataclass(frozen=True)
class KeySlice:
    """One rendered plane: the picture, where it cuts, and how it is oriented."""

    plane: str
    image: Image.Image
    position_mm: float
    axis_name: str
    edges: tuple[str, str, str, str]
    overlay: bool  # the Grad-CAM map is drawn on it
    window: tuple[float, float]  # the intensities shown black and white
    outline: bool = False  # the segmentation's outline is drawn on it


def outline_legend() -> str:
    """What the outline colours mean: 'blue necrotic core, green oedema, yellow enhancing tumour'."""
    return ", ".join(f"{label.colour_name} {label.name}" for label in LABELS)


def key_point(grid_affine: np.ndarray, shape: tuple[int, ...], cam: np.ndarray | None,
              brain_mask: np.ndarray | None, centre_mm: tuple[float, float, float] | None
              ) -> tuple[tuple[int, int, int], str]:
    """The voxel the three planes go through, and what it is (``core.views.cursor_start``)."""
    centre = None if centre_mm is None else np.asarray(centre_mm, float)
    world, what = cursor_start(grid_affine, shape, cam, brain_mask, centre)
    ijk = np.linalg.inv(grid_affine) @ np.append(world, 1.0)
    voxel = np.clip(np.rint(ijk[:3]).astype(int), 0, np.asarray(shape) - 1)
    return tuple(int(v) for v in voxel), what


def key_slices(display: np.ndarray, sequences: tuple[str, ...], grid_affine: np.ndarray,
               cam: np.ndarray | None, brain_mask: np.ndarray | None,
               point: tuple[int, int, int], labels: np.ndarray | None = None) -> tuple[str, list[KeySlice]]:
    """The shown sequence's name and its three planes through ``point``, with the map (inside the brain) and the
    outline of ``labels`` (a BraTS label map on the grid) on top."""
    name = next((s for s in SHOWN_SEQUENCE if s in sequences), sequences[0])
    volume = display[sequences.index(name)]
    low, high = intensity_window(volume)
    if cam is not None and brain_mask is not None:
        cam = cam * brain_mask
    rendered = []
    for plane in PLANES:
        axis = plane.cut
        index = point[axis]
        grey = _plane(volume, axis, index)
        grey = np.clip((grey - low) / (high - low), 0.0, 1.0)
        rgb = np.repeat(grey[..., None] * 255.0, 3, axis=-1)
        if cam is not None:
            heat = _plane(cam, axis, index)
            alpha = (CAM_OPACITY * np.clip((heat - CAM_FLOOR) / (1 - CAM_FLOOR), 0.0, 1.0))[..., None]
            rgb = rgb * (1 - alpha) + _colours(heat) * alpha
        size = _size(grid_affine, axis, grey.shape)
        image = Image.fromarray(rgb.round().astype(np.uint8), "RGB").resize(size, Image.Resampling.BILINEAR)
        outlined = labels is not None and bool(np.any(labels))
        if outlined:
            image = _outlined(image, _plane(labels, axis, index), size)
        position = float((grid_affine @ np.append(np.asarray(point, float), 1.0))[axis])
        rendered.append(KeySlice(plane.name, image, position, "xyz"[axis], plane.edges, cam is not None, (low, high),
                                 outlined))
    return name, rendered


def _outlined(image: Image.Image, labels: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """``image`` with each label's outline drawn at the image's resolution: every label's indicator is upsampled
    (bilinear) and the strongest taken, so the outline is smooth rather than the grid's squares."""
    values = (0, *OUTLINE_RGB)
    strength = np.stack([np.asarray(Image.fromarray((labels == value).astype(np.float32), "F")
                                    .resize(size, Image.Resampling.BILINEAR)) for value in values])
    shown = np.asarray(values)[np.argmax(strength, axis=0)]
    edge = np.zeros(shown.shape, bool)
    edge[:-1] |= shown[:-1] != shown[1:]
    edge[1:] |= shown[1:] != shown[:-1]
    edge[:, :-1] |= shown[:, :-1] != shown[:, 1:]
    edge[:, 1:] |= shown[:, 1:] != shown[:, :-1]
    pixels = np.asarray(image).copy()
    for value, colour in OUTLINE_RGB.items():
        pixels[edge & (shown == value)] = colour
    return Image.fromarray(pixels, "RGB")


def _plane(volume: np.ndarray, axis: int, index: int) -> np.ndarray:
    """A 2D cut with rows top to bottom and columns viewer's left to right (RAS grid, radiological view)."""
    return np.take(volume, index, axis=axis).T[::-1, ::-1].astype(np.float32)


def _size(grid_affine: np.ndarray, axis: int, shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) in pixels of a cut of ``shape`` (rows, columns): true proportions, longest side PIXELS."""
    spacing = np.linalg.norm(grid_affine[:3, :3], axis=0)
    across = [a for a in range(3) if a != axis]  # columns run along across[0], rows along across[1]
    width, height = shape[1] * spacing[across[0]], shape[0] * spacing[across[1]]
    scale = PIXELS / max(width, height)
    return max(int(round(width * scale)), 1), max(int(round(height * scale)), 1)


def _colours(heat: np.ndarray) -> np.ndarray:
    """The map's colours (RGB 0-255) for values in [0, 1]."""
    colours = np.asarray(CAM_COLOURS, float)
    stops = np.linspace(CAM_FLOOR, 1.0, len(colours))
    return np.stack([np.interp(np.clip(heat, 0, 1), stops, colours[:, c]) for c in range(3)], axis=-1)
