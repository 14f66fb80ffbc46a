"""The tumour the segmentation finds: none, or one too small to judge, is not a study the model is meant for.

Threshold: set by what the model is for (a study of a glioma): no tumour, or one under MIN_TUMOUR_ML, fails. The
synthetic cohorts' smallest tumours are 10 ml (train360) and 28 ml (val100) by truth.csv; glioblastomas at
diagnosis are rarely below 5 ml (clinical series, approximate). The volume comes from the segmentation, so how the
series were stored does not move it."""

from __future__ import annotations

from collections.abc import Mapping

from core.quality.result import QualityCheck

MIN_TUMOUR_ML = 3.0
"""Whole-tumour volume (``core.regions`` region ``whole``) below which there is nothing to judge."""


def tumour_check(volumes_ml: Mapping[str, float]) -> QualityCheck:
    """Fail when the whole tumour (``volumes_ml`` by region key, as ``Tumour.volumes_ml``) is under MIN_TUMOUR_ML."""
    whole = float(volumes_ml["whole"])
    if whole < MIN_TUMOUR_ML:
        found = "No tumour was found" if whole == 0 else f"The tumour found is too small to judge ({whole:.1f} ml)"
        return QualityCheck("tumour", None, "fail", whole,
                            f"{found}; expected a glioma of at least {MIN_TUMOUR_ML:.0f} ml. The model is meant for "
                            "studies of a brain tumour.")
    return QualityCheck("tumour", None, "pass", whole, f"A tumour of {whole:.0f} ml was found.")
