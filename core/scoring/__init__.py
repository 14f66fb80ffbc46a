"""Scoring many studies at once (``batch`` and ``evaluate``): on local threads or on a Ray cluster."""

from core.scoring.engines import ENGINES, score_studies
from core.scoring.results import CaseResult, write_results

__all__ = ["ENGINES", "CaseResult", "score_studies", "write_results"]
