"""When the tool does not answer: a failed quality check or an out-of-distribution study abstains; otherwise the
model's decision rule says whether there is a call (a model without one: no call when its interval straddles the
threshold). The probability is still computed and reported either way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.inference.decision import DecisionRule
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
           quality: Sequence[QualityCheck], ood: OodScore | None, rule: DecisionRule | None = None) -> Decision:
    """Abstain on a failed check or an OOD score beyond its threshold; else the label ``rule`` calls, or
    indeterminate with its reason; without a rule, indeterminate when the interval straddles the threshold."""
    reasons = [check.detail for check in quality if check.failed]
    if ood is not None and ood.beyond:
        reasons.append(f"The study is unlike the training data (distance {ood.score:.1f}, beyond the threshold "
                       f"{ood.threshold:.1f} that {ood.percentile:g}% of in-distribution cases stay under).")
    if reasons:
        return Decision(INDETERMINATE, True, tuple(reasons))
    if rule is not None:
        call = rule.call(probability)
        if call.label is None:
            return Decision(INDETERMINATE, False, (call.reason,))
        return Decision(labels[call.label], False, ())
    low, high = interval90
    if not reaches(low, threshold) and reaches(high, threshold):  # within 1e-6 of it counts as at the threshold
        return Decision(INDETERMINATE, False, (
            f"The interval {low:.2f}-{high:.2f} straddles the decision threshold {threshold:.2f}, and the model has "
            "no decision rule: no call.",))
    return Decision(labels[int(reaches(probability, threshold))], False, ())
