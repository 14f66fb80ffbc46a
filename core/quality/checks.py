"""Every quality check on one study, in one list (blank, acquisition, coverage, brain, identity, tumour)."""

from __future__ import annotations

from collections.abc import Mapping

from core.ingest.study import Study
from core.preprocess.chain import PreparedStudy
from core.quality.acquisition import acquisition_checks
from core.quality.blank import blank_checks
from core.quality.brain import brain_check
from core.quality.coverage import coverage_checks
from core.quality.identity import identity_checks
from core.quality.result import QualityCheck
from core.quality.tumour import tumour_check


def run_checks(study: Study, prepared: PreparedStudy,
               tumour_ml: Mapping[str, float] | None = None) -> tuple[QualityCheck, ...]:
    """All checks; ``tumour_ml`` (volumes per sub-region from the segmentation) adds the tumour check."""
    checks = blank_checks(study.content)
    checks += [QualityCheck("missing", name, "warn", None, f"No {name} series was found; predicted without it.")
               for name in study.missing if name not in study.content]
    checks += acquisition_checks(study)
    checks += coverage_checks(study, prepared.brain_mask, prepared.grid)
    checks.append(brain_check(prepared.brain_mask, prepared.grid, prepared.skull.action))
    checks += identity_checks(study, prepared.intensities, prepared.brain_mask, prepared.sequences)
    if tumour_ml is not None:
        checks.append(tumour_check(tumour_ml))
    return tuple(checks)
