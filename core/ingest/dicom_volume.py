"""One DICOM series to one volume: decoded, rescaled, ordered by position, on a uniform slice grid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core.config import Settings
from core.errors import InputError
from core.ingest.dicom_files import DicomSeries, SliceFile, check_modality, slice_order
from core.ingest.geometry import dicom_affine, voxel_spacing

SPACING_TOLERANCE = 0.05
"""Relative deviation of a slice gap from the median gap that counts as non-uniform spacing."""
VOXEL_MM = (0.05, 30.0)
"""Voxel sizes (mm) a brain MRI can have along any axis; clinical scans lie between about 0.2 and 10."""
MAX_GRID_PER_FILE = 4
"""A uniform slice grid may hold at most this many slices per file of the series; more would be mostly invented
(interpolated), which means a wrong position rather than missing slices."""


@dataclass(frozen=True)
class SeriesVolume:
    """A series as a volume ``[column, row, slice]`` with its RAS affine, and what was noticed.

    Intensities are ``array * rescale[0] + rescale[1]``. When every slice shares one RescaleSlope and
    RescaleIntercept, the array keeps the stored integers and ``rescale`` carries them (half the memory
    of float32, and consumers apply it after resampling, on far fewer voxels); when slices rescale
    differently, the array is float32 intensities and ``rescale`` is (1, 0).
    """

    array: np.ndarray
    affine: np.ndarray
    warnings: tuple[str, ...]
    rescale: tuple[float, float] = (1.0, 0.0)


def check_volume_size(shape: tuple[int, ...], what: str, settings: Settings) -> None:
    """Raise when a volume is beyond a sane size for one brain MRI sequence."""
    voxels = int(np.prod(shape, dtype=np.int64))
    if max(shape) > settings.max_dimension or voxels > settings.max_voxels:
        raise InputError(f"{what} is {' x '.join(map(str, shape))} voxels ({voxels:,}); expected at most "
                         f"{settings.max_dimension} per axis and {settings.max_voxels:,} in all for one sequence.")


def check_voxel_size(affine: np.ndarray, what: str) -> None:
    """Raise when an affine's voxels are outside the sizes of MRI (a damaged PixelSpacing, position or header)."""
    spacing = voxel_spacing(affine)
    low, high = VOXEL_MM
    if not all(low <= size <= high for size in spacing):
        sizes = " x ".join(f"{size:.4g}" for size in spacing)
        raise InputError(f"{what} has voxels of {sizes} mm; expected {low:g} to {high:g} mm along each axis for a "
                         "brain MRI (check PixelSpacing and the slice positions, or the NIfTI header).")


NATIVE_LITTLE_ENDIAN = {ExplicitVRLittleEndian, ImplicitVRLittleEndian}


def native_layout(ds: Dataset) -> tuple[np.dtype, int] | None:
    """Type and file offset of uncompressed 16-bit grey pixels that a deferred read left in the file.

    Such pixels can be read straight into the volume, with no intermediate copy; None when anything is
    unusual (compressed, big-endian, not 16 bits, multi-frame, truncated, already in memory).
    """
    meta = getattr(ds, "file_meta", None)
    if meta is None or meta.get("TransferSyntaxUID") not in NATIVE_LITTLE_ENDIAN:
        return None
    if (ds.get("BitsAllocated"), ds.get("BitsStored"), ds.get("SamplesPerPixel", 1)) != (16, 16, 1):
        return None
    if int(ds.get("NumberOfFrames", 1) or 1) != 1:
        return None
    raw = ds.get_item("PixelData", keep_deferred=True)
    if not isinstance(raw, RawDataElement) or raw.value is not None:
        return None
    if raw.length != int(ds.Rows) * int(ds.Columns) * 2:
        return None  # padded or truncated: let pydicom handle (and name) it
    dtype = np.dtype(np.int16 if ds.get("PixelRepresentation", 0) == 1 else np.uint16)
    return dtype, int(raw.value_tell)


def _read_into(path: Path, offset: int, plane: np.ndarray) -> bool:
    """Read raw pixel bytes into ``plane`` (columns x rows, Fortran order = the file's row-major pixels)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.readinto(memoryview(plane.T).cast("B")) == plane.nbytes


def decode_pixels(slice_file: SliceFile, series: DicomSeries) -> np.ndarray:
    """The stored pixel values of one slice as a 2D array (rows x columns)."""
    ds = slice_file.dataset
    syntax = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
    try:
        pixels = ds.pixel_array
    except Exception as err:  # decoders of damaged or exotic data raise many types; the file is the cause
        name = getattr(syntax, "name", str(syntax))
        raise InputError(f"Pixel data of '{slice_file.relative}' ({series.label()}, transfer syntax {name}) "
                         f"cannot be decoded ({type(err).__name__}: {err}); expected uncompressed, JPEG, JPEG-LS, "
                         "JPEG 2000 or RLE pixel data that is complete.") from err
    if pixels.ndim != 2:
        raise InputError(f"File '{slice_file.relative}' holds a {pixels.ndim}D image of shape {pixels.shape} "
                         "(multi-frame or colour); expected one grey-scale slice per file (classic MR storage).")
    return pixels


def _rescale(slice_file: SliceFile) -> tuple[float, float]:
    """RescaleSlope and RescaleIntercept (default 1 and 0); InputError when they are not numbers that keep
    intensities of stored values (up to 32 bits) within float32."""
    slope = (slice_file.float_tuple("RescaleSlope") or (1.0,))[0]
    intercept = (slice_file.float_tuple("RescaleIntercept") or (0.0,))[0]
    if abs(slope) * 2.0**32 + abs(intercept) > np.finfo(np.float32).max:
        raise InputError(f"File '{slice_file.relative}' has RescaleSlope {slope:g} and RescaleIntercept "
                         f"{intercept:g}; expected a rescale that keeps intensities within float32 (about 3e38).")
    return slope, intercept


def check_slice_span(series: DicomSeries, order: np.ndarray, along: np.ndarray) -> None:
    """Raise when the slices' positions span far more than their count at their usual spacing allows."""
    gaps = np.diff(along)
    gap = float(np.median(gaps))
    if (along[-1] - along[0]) / gap + 1 <= MAX_GRID_PER_FILE * len(along):
        return
    widest = int(np.argmax(gaps))
    before, after = (series.slices[int(order[k])].relative for k in (widest, widest + 1))
    raise InputError(f"The {series.label()} has a gap of {gaps[widest]:.4g} mm between '{before}' and '{after}' "
                     f"where its slices lie {gap:.2f} mm apart; expected slices spread evenly along their normal "
                     "(is the ImagePositionPatient of one file wrong?).")


def _uniform_slices(
    array: np.ndarray, along: np.ndarray, label: str
) -> tuple[np.ndarray, float, int, list[str]]:
    """Resample slices at positions ``along`` onto a uniform grid; return (array, gap, count, warnings)."""
    gaps = np.diff(along)
    gap = float(np.median(gaps))
    if np.all(np.abs(gaps - gap) <= SPACING_TOLERANCE * gap):
        return array, float((along[-1] - along[0]) / (len(along) - 1)), len(along), []
    multiples = gaps / gap
    count = int(round((along[-1] - along[0]) / gap)) + 1
    if np.all(np.abs(multiples - np.rint(multiples)) <= SPACING_TOLERANCE):
        missing = int(np.sum(np.rint(multiples) - 1))
        warning = (f"The {label} misses {missing} slice(s) (gaps of up to {gaps.max():.2f} mm where the spacing is "
                   f"{gap:.2f} mm); the missing slices were interpolated from their neighbours.")
    else:
        warning = (f"The {label} has non-uniform slice spacing ({gaps.min():.2f} to {gaps.max():.2f} mm); "
                   f"it was resampled to a uniform {gap:.2f} mm.")
    targets = along[0] + np.arange(count) * gap
    upper = np.clip(np.searchsorted(along, targets, side="right"), 1, len(along) - 1)
    lower = upper - 1
    weight = ((targets - along[lower]) / (along[upper] - along[lower])).astype(np.float32)
    resampled = np.empty(array.shape[:2] + (count,), dtype=np.float32, order="F")
    for m in range(count):
        resampled[:, :, m] = array[:, :, lower[m]] * (1 - weight[m]) + array[:, :, upper[m]] * weight[m]
    return resampled, float((targets[-1] - targets[0]) / (count - 1)), count, [warning]


def _store_rescaled(plane: np.ndarray, stored: np.ndarray, slope: float, intercept: float) -> None:
    """plane = stored * slope + intercept, computed in the plane's type (two passes at most)."""
    if slope == 1.0 and intercept == 0.0:
        plane[...] = stored
        return
    np.multiply(stored, plane.dtype.type(slope), out=plane, casting="unsafe")
    if intercept != 0.0:
        plane += plane.dtype.type(intercept)


def load_series_volume(series: DicomSeries, settings: Settings) -> SeriesVolume:
    """Decode, rescale and stack a series by slice position; build its RAS affine from the headers."""
    check_modality(series)
    if len(series.slices) < 2:
        raise InputError(f"The {series.label()} has a single slice ('{series.slices[0].relative}'); "
                         "expected a 3D series of many slices.")
    order, positions, orientation = slice_order(series)
    normal = np.cross(orientation[:3], orientation[3:])
    along = positions @ normal
    if np.min(np.diff(along)) < 1e-3:
        raise InputError(f"The {series.label()} has several slices at the same position "
                         f"({len(along)} slices, {len(np.unique(np.round(along, 3)))} positions: echoes or time "
                         "points of one series?); expected one slice per position.")
    check_slice_span(series, order, along)
    first = series.slices[int(order[0])]
    rows, columns = int(first.dataset.Rows), int(first.dataset.Columns)
    check_volume_size((columns, rows, len(order)), f"The {series.label()}", settings)
    rescales = [_rescale(series.slices[int(index)]) for index in order]
    shared = rescales[0] if all(rescale == rescales[0] for rescale in rescales) else None
    if shared is not None:  # one rescale for the whole series: keep stored values, pass the rescale on
        rescales = [(1.0, 0.0)] * len(rescales)
    identity = all(rescale == (1.0, 0.0) for rescale in rescales)
    array = None
    scratch = None
    for k, index in enumerate(order):
        slice_file = series.slices[int(index)]
        slope, intercept = rescales[k]
        layout = native_layout(slice_file.dataset)
        if layout is not None and identity and (array is None or array.dtype == layout[0]):
            if array is None:  # stored values are the intensities: keep their type, read straight in
                array = np.empty((columns, rows, len(order)), dtype=layout[0], order="F")
            if _read_into(slice_file.path, layout[1], array[:, :, k]):
                continue
        if layout is not None and not identity:
            if scratch is None or scratch.dtype != layout[0]:
                scratch = np.empty((columns, rows), dtype=layout[0], order="F")
            if _read_into(slice_file.path, layout[1], scratch):
                if array is None:
                    array = np.empty((columns, rows, len(order)), dtype=np.float32, order="F")
                _store_rescaled(array[:, :, k], scratch, slope, intercept)
                continue
        pixels = decode_pixels(slice_file, series)
        if pixels.shape != (rows, columns):
            raise InputError(f"Pixel data of '{slice_file.relative}' is {pixels.shape}, but its header says "
                             f"{rows}x{columns}; expected the two to agree.")
        if array is None:
            dtype = pixels.dtype.newbyteorder("=") if identity and pixels.dtype.kind in "iu" else np.float32
            array = np.empty((columns, rows, len(order)), dtype=dtype, order="F")
        elif array.dtype.kind != "f" and (pixels.dtype.kind != array.dtype.kind
                                          or pixels.dtype.itemsize > array.dtype.itemsize):
            array = array.astype(np.float32, order="F")  # slices disagree on their integer type
        _store_rescaled(array[:, :, k], pixels.T, slope, intercept)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(f"The {series.label()} contains NaN or infinite pixel values; expected finite intensities.")
    label = series.label()
    array, gap, count, warnings = _uniform_slices(array, along, label)
    direction = (positions[-1] - positions[0]) / np.linalg.norm(positions[-1] - positions[0])
    pixel_spacing = first.float_tuple("PixelSpacing")
    if pixel_spacing is None or len(pixel_spacing) != 2 or min(pixel_spacing) <= 0:
        raise InputError(f"File '{first.relative}' has PixelSpacing {pixel_spacing}; expected two positive numbers.")
    affine = dicom_affine(orientation, positions[0], pixel_spacing, direction * gap)
    check_voxel_size(affine, f"The {label}")
    return SeriesVolume(array=array, affine=affine, warnings=tuple(warnings), rescale=shared or (1.0, 0.0))
