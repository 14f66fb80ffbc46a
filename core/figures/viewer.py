"""The linked viewer: axial, coronal and sagittal planes through one cursor, for the four sequences at the study's
own resolution, with the Grad-CAM map and the tumour labels as overlays.

Rows are the three planes, columns the sequences; axes are world millimetres (RAS). Planes, edge directions and
Grad-CAM colours are ``core.views``' (the radiological convention, as the PDF's key slices); label names and
colours are ``core.regions``'.
A click lands on a transparent lattice of points over each image (plotly selects points, not heatmap cells), so
``moved_cursor`` turns the selected point back into a cursor.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.preprocess.display import DisplayVolumes
from core.regions import LABELS
from core.views import CAM_COLOURS, CAM_FLOOR, PLANES, Plane

CLICK_POINTS = 64
"""Clickable points along an image's longer side (a finer lattice costs payload: 12 lattices per figure)."""
AXIS = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False, "showline": False,
        "constrain": "domain", "fixedrange": True}
TRANSPARENT = "rgba(0,0,0,0)"
TOP_LABEL = max(label.value for label in LABELS)
"""The label overlay's colour scale runs from 0 to this."""
CURSOR_COLOUR = "rgba(0,255,255,0.7)"
WORLD_AXES = "xyz"


def cam_colourscale() -> list[list]:
    """Grad-CAM colours over 0..255 levels, transparent below ``CAM_FLOOR`` so the anatomy stays readable."""
    colours = [f"rgb({red},{green},{blue})" for red, green, blue in CAM_COLOURS]
    scale = [[0.0, TRANSPARENT], [CAM_FLOOR - 1e-3, TRANSPARENT]]
    scale += [[CAM_FLOOR + (1 - CAM_FLOOR) * i / (len(colours) - 1), colour] for i, colour in enumerate(colours)]
    return scale


def label_colourscale() -> list[list]:
    """Steps over label values 0..4: 0 and 3 transparent, the BraTS labels in their ``core.regions`` colours."""
    steps = {value: TRANSPARENT for value in range(TOP_LABEL + 1)} | {label.value: label.colour for label in LABELS}
    scale = []
    for value in range(TOP_LABEL + 1):
        low, high = max(0.0, (value - 0.5) / TOP_LABEL), min(1.0, (value + 0.5) / TOP_LABEL)
        scale += [[low, steps[value]], [high, steps[value]]]
    return scale


def linked_figure(display: DisplayVolumes, cursor: tuple[int, int, int], cam_opacity: float | None = 0.45,
                  label_opacity: float | None = 0.4, width: int = 1000) -> go.Figure:
    """Three planes through ``cursor`` (a display voxel) for every sequence; an overlay is drawn when its opacity
    is given and the volume has it. Trace ``n`` for ``n < len(PLANES) * len(sequences)`` is the click lattice of
    panel ``n`` (row-major), which ``moved_cursor`` relies on. Rows are as tall as their images at ``width``."""
    columns = len(display.sequences)
    shape = display.grid.shape
    aspects = [shape[plane.vertical] / shape[plane.horizontal] for plane in PLANES]
    images_height = (width - 60) / columns * sum(aspects)
    figure = make_subplots(rows=len(PLANES), cols=columns, column_titles=list(display.sequences),
                           row_titles=[plane.name.capitalize() for plane in PLANES], horizontal_spacing=0.01,
                           vertical_spacing=0.02, row_heights=aspects)
    world = display.world_of(cursor)
    row_titles = {plane.name.capitalize() for plane in PLANES}
    annotations = [{**annotation.to_plotly_json(), "xshift": 14} if annotation.text in row_titles else annotation
                   for annotation in figure.layout.annotations]  # row titles clear of the images
    shapes: list[dict] = []  # annotations and shapes set once at the end: plotly re-checks them on each add
    colourbar_drawn = False
    panels = [(row, column) for row in range(len(PLANES)) for column in range(columns)]
    traces, cells, axes = [], [], {}  # set once at the end, as annotations and shapes are
    for row, column in panels:  # the click lattices first: their curve numbers are the panel numbers
        traces.append(_click_lattice(display, PLANES[row], world))
        cells.append((row + 1, column + 1))
    for number, (row, column) in enumerate(panels, start=1):
        plane, cell = PLANES[row], (row + 1, column + 1)
        index = cursor[plane.cut]
        place = _placement(display, plane)
        traces.append(go.Heatmap(z=_cut(display.images[column], plane, index), zmin=0, zmax=255, colorscale="gray",
                                 showscale=False, zsmooth="best", hoverinfo="skip", **place))
        cells.append(cell)
        if cam_opacity is not None and display.cam is not None:
            shown = _overlay(_cut(display.cam, plane, index), place, floor=round(255 * CAM_FLOOR))
            if shown:
                traces.append(go.Heatmap(zmin=0, zmax=255, colorscale=cam_colourscale(), opacity=cam_opacity,
                                         zsmooth="best", hoverinfo="skip", showscale=not colourbar_drawn,
                                         colorbar={"title": "Grad-CAM", "len": 0.5, "thickness": 12,
                                                   "tickvals": [255 * CAM_FLOOR, 255],
                                                   "ticktext": [f"{CAM_FLOOR:g}", "1"]}, **shown))
                cells.append(cell)
                colourbar_drawn = True
        if label_opacity is not None and display.labels is not None:
            shown = _overlay(_cut(display.labels, plane, index), place, floor=1)
            if shown:
                traces.append(go.Heatmap(zmin=0, zmax=TOP_LABEL, colorscale=label_colourscale(), opacity=label_opacity,
                                         zsmooth=False, hoverinfo="skip", showscale=False, **shown))
                cells.append(cell)
        axis = "" if number == 1 else str(number)
        axes.update({f"xaxis{axis}": {**AXIS, "autorange": "reversed", "scaleanchor": f"y{axis}"},
                     f"yaxis{axis}": AXIS})
        shapes += _cursor_lines(axis, world[plane.horizontal], world[plane.vertical])
        annotations += _edge_labels(axis, plane.edges)
    figure.add_traces(traces, rows=[row for row, _ in cells], cols=[column for _, column in cells])
    figure.update_layout(axes, annotations=annotations, shapes=shapes, height=round(images_height * 1.05) + 40,
                         plot_bgcolor="black",
                         margin={"l": 10, "r": 30, "t": 30, "b": 10},
                         showlegend=False, hovermode="closest", clickmode="event+select")
    return figure


def moved_cursor(display: DisplayVolumes, cursor: tuple[int, int, int], curve_number: int, x_mm: float,
                 y_mm: float) -> tuple[int, int, int] | None:
    """The cursor after a click at (``x_mm``, ``y_mm``) on panel ``curve_number`` of ``linked_figure``: the clicked
    plane keeps its slice, the other two move there. None when the click was not on a click lattice."""
    if not 0 <= curve_number < len(PLANES) * len(display.sequences):
        return None
    plane = PLANES[curve_number // len(display.sequences)]
    world = display.world_of(cursor)
    world[plane.horizontal], world[plane.vertical] = x_mm, y_mm
    return display.voxel_of(world)


def _cut(volume: np.ndarray, plane: Plane, index: int) -> np.ndarray:
    """The plane's image: rows along its vertical world axis, columns along its horizontal one."""
    return np.take(volume, index, axis=plane.cut).T


def _placement(display: DisplayVolumes, plane: Plane) -> dict[str, float]:
    """Heatmap origin and step in world mm (the display grid is RAS with equal spacing on every axis)."""
    origin, step = display.grid.affine[:3, 3], display.spacing_mm
    return {"x0": float(origin[plane.horizontal]), "dx": step, "y0": float(origin[plane.vertical]), "dy": step}


def _overlay(image: np.ndarray, place: dict[str, float], floor: int) -> dict | None:
    """An overlay's heatmap arguments, cropped to where it reaches ``floor`` (below is transparent: no need to send
    it); None when it reaches it nowhere on this plane."""
    rows, columns = np.nonzero(np.any(image >= floor, axis=1)), np.nonzero(np.any(image >= floor, axis=0))
    if not len(rows[0]):
        return None
    (top, bottom), (left, right) = rows[0][[0, -1]], columns[0][[0, -1]]
    return {"z": image[top:bottom + 1, left:right + 1], "x0": place["x0"] + left * place["dx"], "dx": place["dx"],
            "y0": place["y0"] + top * place["dy"], "dy": place["dy"]}


def _click_lattice(display: DisplayVolumes, plane: Plane, world: np.ndarray) -> go.Scatter:
    """Transparent points every few voxels over a panel: what a click selects, with its world position on hover."""
    shape, origin, step = display.grid.shape, display.grid.affine[:3, 3], display.spacing_mm
    stride = max(1, math.ceil(max(shape[plane.horizontal], shape[plane.vertical]) / CLICK_POINTS))
    across = origin[plane.horizontal] + step * np.arange(0, shape[plane.horizontal], stride)
    up = origin[plane.vertical] + step * np.arange(0, shape[plane.vertical], stride)
    x, y = (np.rint(grid.ravel()).astype(np.int16) for grid in np.meshgrid(across, up))  # whole mm: half the bytes
    names = {plane.horizontal: "%{x:.0f}", plane.vertical: "%{y:.0f}", plane.cut: f"{world[plane.cut]:.0f}"}
    where = ", ".join(names[axis] for axis in range(3))
    return go.Scatter(x=x, y=y, mode="markers", marker={"color": TRANSPARENT, "size": 6}, showlegend=False,
                      hovertemplate=f"(x, y, z) = ({where}) mm<extra></extra>", zorder=1,
                      selected={"marker": {"opacity": 0}}, unselected={"marker": {"opacity": 0}})


def _cursor_lines(axis: str, across_mm: float, up_mm: float) -> list[dict]:
    """The cursor's two lines across one panel."""
    line = {"color": CURSOR_COLOUR, "width": 1}
    return [{"type": "line", "xref": f"x{axis}", "yref": f"y{axis} domain", "x0": across_mm, "x1": across_mm,
             "y0": 0, "y1": 1, "line": line},
            {"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}", "x0": 0, "x1": 1, "y0": up_mm,
             "y1": up_mm, "line": line}]


def _edge_labels(axis: str, edges: tuple[str, str, str, str]) -> list[dict]:
    """Patient directions at the four edges of one panel."""
    left, right, top, bottom = edges
    return [{"text": text, "xref": f"x{axis} domain", "yref": f"y{axis} domain", "x": x, "y": y, "xanchor": xanchor,
             "yanchor": yanchor, "showarrow": False, "font": {"color": "yellow", "size": 11}}
            for text, x, y, xanchor, yanchor in ((left, 0, 0.5, "left", "middle"), (right, 1, 0.5, "right", "middle"),
                                                 (top, 0.5, 1, "center", "top"), (bottom, 0.5, 0, "center", "bottom"))]


def label_legend() -> str:
    """What each segmentation colour means."""
    return ", ".join(f"{label.name} ({label.value}) {label.colour_name}" for label in LABELS)


def cursor_caption(display: DisplayVolumes, cursor: tuple[int, int, int]) -> str:
    """The cursor's world position in mm, with the patient direction of each coordinate."""
    world = display.world_of(cursor)
    sides = (("R", "L"), ("A", "P"), ("S", "I"))  # RAS: positive x towards the right, y anterior, z superior
    return ", ".join(f"{WORLD_AXES[a]} {world[a]:+.1f} mm ({_side(world[a], *sides[a])})" for a in range(3))


def _side(value: float, positive: str, negative: str) -> str:
    return positive if value >= 0 else negative
