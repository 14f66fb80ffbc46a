"""When the tool does not answer: a failed quality check or an out-of-distribution study abstains, and an interval
that straddles the threshold is indeterminate. The probability is still computed and reported either way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.inference.ood import OodScore
from core.inference.tolerance import reaches
from core.quality.result import QualityCheck

INDETERMINATE = "indeterminate"


@dataclass(frozen=True)
class Decision:
    """The label shown, whether the tool abstained, and why (sentences)."""

    label: str
    abstained: bool
    reasons: tuple[str, ...]


def decide(probability: float, interval90: tuple[float, float], threshold: float, labels: Sequence[str],
           quality: Sequence[QualityCheck], ood: OodScore | None) -> Decision:
    """Abstain on a failed check or an OOD score beyond its threshold; indeterminate when the 90% interval
    straddles the threshold; else the label the probability gives."""
    reasons = [check.detail for check in quality if check.failed]
    if ood is not None and ood.beyond:
        reasons.append(f"The study is unlike the training data (distance {ood.score:.1f}, beyond the threshold "
                       f"{ood.threshold:.1f} that {ood.percentile:g}% of in-distribution cases stay under).")
    if reasons:
        return Decision(INDETERMINATE, True, tuple(reasons))
    low, high = interval90
    if not reaches(low, threshold) and reaches(high, threshold):  # within 1e-6 of it counts as at the threshold
        return Decision(INDETERMINATE, False, (
            f"The 90% interval {low:.2f}-{high:.2f} straddles the decision threshold {threshold:.2f}: no call.",))
    return Decision(labels[int(reaches(probability, threshold))], False, ())
