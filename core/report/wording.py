"""What a prediction says, in the words the Predict page and the PDF both use: the call (or why there is none) in
one sentence, the quality checks in one line plus the ones that did not pass, and numbers with units.

Built from the typed parts of a prediction's result (label, probability, uncertainty, reasons, quality), never from
its JSON, so the page and the report cannot say different things.

Example:
    >>> quality_line([])
    'No quality checks were run.'
    >>> percent(0.8349)
    '83%'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from core.quality.result import QualityCheck


class Interval(Protocol):
    interval90: tuple[float, float]


class Answer(Protocol):
    """The parts of a prediction's result the wording reads."""

    probability: float
    label: str
    threshold: float
    uncertainty: Interval
    abstained: bool
    reasons: tuple[str, ...]


INDETERMINATE = "indeterminate"
"""The label of a prediction without a call (``core.inference.abstention`` gives it; not imported from there, which
would load torch into every light user of these words)."""
STATUS_WORDS = {"warn": "Warning", "fail": "Failed"}
"""How a check that did not pass is introduced."""


def percent(value: float) -> str:
    """A probability as a whole percentage ('83%'); below 1% and above 99% say so rather than round to 0 or 100."""
    shown = 100.0 * float(value)
    if 0.0 < shown < 1.0:
        return "<1%"
    if 99.0 < shown < 100.0:
        return ">99%"
    return f"{shown:.0f}%"


def millilitres(value: float) -> str:
    """A volume in ml: one decimal below 100 ml, whole millilitres above (a brain is '2157 ml', not '2.16e+03')."""
    return f"{value:.1f} ml" if abs(value) < 100 else f"{value:.0f} ml"


def millimetres(values: Sequence[float]) -> str:
    """A world position (RAS) in whole millimetres, signed: 'x -12, y +30, z +8 mm'."""
    return ", ".join(f"{axis} {value:+.0f}" for axis, value in zip("xyz", values, strict=True)) + " mm"


def is_call(answer: Answer) -> bool:
    """The model made a call (methylated or unmethylated): no abstention, and the decision rule accepted."""
    return not answer.abstained and answer.label != INDETERMINATE


def estimate(answer: Answer) -> str:
    """The probability with its 90% interval: 'P(methylated) 83% (90% interval 71% to 90%)'."""
    low, high = answer.uncertainty.interval90
    return f"P(methylated) {percent(answer.probability)} (90% interval {percent(low)} to {percent(high)})"


def call_sentence(answer: Answer) -> str:
    """The call, or why there is none, in one sentence."""
    reasons = " ".join(answer.reasons).strip()
    if answer.abstained:
        return f"No call: the tool abstains on this study. {reasons}".strip()
    if answer.label == INDETERMINATE:
        return f"No call: the model is not sure enough either way. {reasons}".strip()
    return f"The model calls the MGMT promoter {answer.label}: {estimate(answer)}."


def reference_estimate(answer: Answer) -> str | None:
    """Where there is no call: the probability, marked as not a result; None when the model made a call."""
    if is_call(answer):
        return None
    return f"For reference only, not a result: {estimate(answer)}."


def quality_line(checks: Sequence[QualityCheck]) -> str:
    """All checks in one line: '21 checks passed', or '19 of 21 checks passed (1 warning, 1 failure)'."""
    if not checks:
        return "No quality checks were run."
    passed = sum(check.status == "pass" for check in checks)
    if passed == len(checks):
        return f"{passed} quality check{'s' if passed != 1 else ''} passed."
    warnings = sum(check.status == "warn" for check in checks)
    failures = sum(check.status == "fail" for check in checks)
    counted = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((warnings, "warning"), (failures, "failure"))
               if n]
    return f"{passed} of {len(checks)} quality checks passed ({', '.join(counted)})."


def quality_issues(checks: Sequence[QualityCheck]) -> list[str]:
    """One line per check that did not pass, failures first: 'Failed (T2w): <why>'."""
    ordered = sorted((check for check in checks if check.status != "pass"), key=lambda check: check.status != "fail")
    return [f"{STATUS_WORDS[check.status]} ({check.sequence or 'study'}): {check.detail}" for check in ordered]
