"""The slice viewer: the four sequences on the common RAS grid in one view, with the Grad-CAM map on top.

Views follow the radiological convention: the patient's right on the viewer's left; anterior left in sagittal.
Grid axes are RAS (i: towards the right, j: anterior, k: superior), as ``core.preprocess.grid.Grid`` defines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sequential
from plotly.subplots import make_subplots
from scipy import ndimage

CAM_FLOOR = 0.2
"""Map values below this are left transparent, so the anatomy stays readable."""
BARE_AXIS = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "showline": False,
             "constrain": "domain"}
CAM_COLOURS = sequential.YlOrRd
"""Light yellow for weak evidence, dark red for the strongest."""


@dataclass(frozen=True)
class View:
    """A plane through the grid: the axis it cuts, and the labels of the image's left/right/top/bottom edges."""

    name: str
    axis: int
    edges: tuple[str, str, str, str]  # left, right, top, bottom (patient directions)

    def plane(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The 2D slice as rows (bottom to top) x columns (viewer's left to right before axis reversal)."""
        return np.take(volume, index, axis=self.axis).T


VIEWS = {
    "axial": View("axial", 2, ("R", "L", "A", "P")),
    "coronal": View("coronal", 1, ("R", "L", "S", "I")),
    "sagittal": View("sagittal", 0, ("A", "P", "S", "I")),
}


def intensity_window(volume: np.ndarray) -> tuple[float, float]:
    """Display window of a sequence: 1st to 99.5th percentile of its non-zero voxels (stable across slices)."""
    values = volume[volume != 0]
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [1, 99.5])
    return float(low), float(max(high, low + 1e-6))


def slice_figure(display: np.ndarray, sequences: tuple[str, ...], view: str, index: int,
                 cam: np.ndarray | None = None, cam_opacity: float = 0.45, height: int = 720) -> go.Figure:
    """The four sequences cut by ``view`` at ``index``, two by two, with the map over each when ``cam`` is given
    (pass it masked to the brain: the network's input is zero outside, so the map there is padding, not evidence)."""
    spec = VIEWS[view]
    columns = 2
    rows = -(-len(sequences) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=list(sequences), horizontal_spacing=0.02,
                           vertical_spacing=0.08)
    figure.update_annotations(yshift=6, font={"size": 14})  # the sequence names, clear of the images
    for number, (name, volume) in enumerate(zip(sequences, display, strict=True), start=1):
        cell = {"row": (number - 1) // columns + 1, "col": (number - 1) % columns + 1}
        low, high = intensity_window(volume)
        figure.add_heatmap(z=spec.plane(volume, index), zmin=low, zmax=high, colorscale="gray", showscale=False,
                           zsmooth="best", name=name, hovertemplate=f"{name}: %{{z:.0f}}<extra></extra>", **cell)
        if cam is not None:
            overlay = spec.plane(cam, index).astype(float)
            overlay[overlay < CAM_FLOOR] = np.nan
            figure.add_heatmap(z=overlay, zmin=0, zmax=1, colorscale=CAM_COLOURS, opacity=cam_opacity,
                               zsmooth="best", showscale=number == len(sequences),
                               colorbar={"title": "Grad-CAM", "len": 0.8, "thickness": 12},
                               hovertemplate="Grad-CAM: %{z:.2f}<extra></extra>", **cell)
        axis = "" if number == 1 else str(number)
        figure.update_layout({
            f"xaxis{axis}": {**BARE_AXIS, "autorange": "reversed", "scaleanchor": f"y{axis}"},
            f"yaxis{axis}": BARE_AXIS,
        })
        _edge_labels(figure, spec, number)
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 40, "b": 10}, plot_bgcolor="black")
    return figure


def _edge_labels(figure: go.Figure, spec: View, number: int) -> None:
    """Patient directions at the four edges of subplot ``number``."""
    axis = "" if number == 1 else str(number)
    left, right, top, bottom = spec.edges
    for text, x, y, xanchor, yanchor in ((left, 0, 0.5, "left", "middle"), (right, 1, 0.5, "right", "middle"),
                                         (top, 0.5, 1, "center", "top"), (bottom, 0.5, 0, "center", "bottom")):
        figure.add_annotation(text=text, xref=f"x{axis} domain", yref=f"y{axis} domain", x=x, y=y,
                              xanchor=xanchor, yanchor=yanchor, showarrow=False,
                              font={"color": "yellow", "size": 12})


def default_indices(shape: tuple[int, int, int], cam: np.ndarray | None) -> dict[str, int]:
    """Where each view starts: through the strongest Grad-CAM voxel when there is a map, else the middle."""
    point = np.unravel_index(int(np.argmax(cam)), cam.shape) if cam is not None and cam.max() > 0 else \
        tuple(n // 2 for n in shape)
    return {name: int(point[spec.axis]) for name, spec in VIEWS.items()}


def slice_position_mm(affine: np.ndarray, view: str, index: int) -> float:
    """World coordinate (mm) of a slice along its view's axis (x for sagittal, y coronal, z axial) on a RAS grid."""
    axis = VIEWS[view].axis
    return float(affine[axis, axis] * index + affine[axis, 3])


def cam_in_brain(cam: np.ndarray | None, brain_mask: np.ndarray) -> np.ndarray | None:
    """The map inside the brain (grown by one voxel): what is shown over the anatomy."""
    if cam is None:
        return None
    return np.where(ndimage.binary_dilation(brain_mask), cam, 0.0).astype(np.float32)
