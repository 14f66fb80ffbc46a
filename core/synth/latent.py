"""The latent score's class separation and the best AUC it allows (standard library only: cheap to import)."""

from __future__ import annotations

from math import sqrt
from statistics import NormalDist

DEFAULT_SEPARATION = 1.466
"""Class separation d of the latent score; Phi(1.466 / sqrt 2) = 0.850."""


def best_achievable_auc(separation: float) -> float:
    """AUC of the latent score itself, the ceiling for any model of the images: Phi(d / sqrt 2)."""
    return float(NormalDist().cdf(separation / sqrt(2.0)))
