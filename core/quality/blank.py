"""Blank or near-constant series: ingest measures what each series holds (``core.ingest.content``) and sets a blank
one aside as missing; this check names it in the report."""

from __future__ import annotations

from collections.abc import Mapping

from core.ingest.content import SeriesContent
from core.quality.result import QualityCheck


def blank_checks(content: Mapping[str, SeriesContent]) -> list[QualityCheck]:
    """One check per loaded series: fail-free (a blank series is set aside and predicted without), warn if blank."""
    checks = []
    for sequence, measured in content.items():
        share = f"{measured.dominant_fraction:.1%} of its voxels equal {measured.dominant_value:g}"
        if measured.blank:
            checks.append(QualityCheck("blank", sequence, "warn", measured.dominant_fraction,
                                       f"The {sequence} series holds no image ({share}); it was treated as missing."))
        else:
            checks.append(QualityCheck("blank", sequence, "pass", measured.dominant_fraction,
                                       f"The {sequence} series holds an image ({share})."))
    return checks
