"""Comparisons with a decision threshold that floating-point noise cannot flip.

The same study scored with a different number of torch threads (one when it shares the CPU, all cores when it is
alone, core/admission.py) sums in a different order: its out-of-distribution distance differed by 2e-7 relative
(10.2147316 with one thread, 10.2147336 with two; the probability agreed to 1e-8) and each count repeats its own
figure exactly. A value within DECISION_TOLERANCE (relative) of a threshold counts as at the threshold: it ``reaches``
it and is not ``beyond`` it. That matters because the OOD threshold is a percentile of in-distribution distances,
the distance of a training study itself, so a study lying on it is not rare.

Example::

    beyond(10.2147336, threshold=10.2147316)   # False: at the threshold, within 1e-6
    reaches(0.49999999, threshold=0.5)         # True
"""

from __future__ import annotations

DECISION_TOLERANCE = 1e-6
"""Relative band around a threshold, five times the noise measured between thread counts."""


def _band(threshold: float, tolerance: float) -> float:
    return tolerance * abs(threshold)


def beyond(value: float, threshold: float, tolerance: float = DECISION_TOLERANCE) -> bool:
    """``value`` exceeds ``threshold`` by more than ``tolerance`` of it (at the threshold is not beyond)."""
    return value > threshold + _band(threshold, tolerance)


def reaches(value: float, threshold: float, tolerance: float = DECISION_TOLERANCE) -> bool:
    """``value`` is at or above ``threshold``, a value within ``tolerance`` of it included."""
    return value >= threshold - _band(threshold, tolerance)
