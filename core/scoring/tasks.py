"""What is done with each study of a cohort, on either engine: ``score_one`` (batch), or another module-level
function of the same shape (``evaluate``'s), which Ray ships to its workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InputError
from core.scoring.results import CaseResult

if TYPE_CHECKING:
    from core.inference import Predictor  # imports torch: for the type only

Task = Callable[["Predictor", str, Path], CaseResult]
"""A task: the predictor, the case id and its study folder in, one CaseResult out (a partial of a module-level
function is one too, so Ray can ship it)."""


def score_one(predictor: Predictor, case: str, folder: Path) -> CaseResult:
    """Read one study folder and score it; an unreadable study is a failed result naming why."""
    from core.ingest import load_study

    try:
        result = predictor.predict(load_study(folder), with_cam=False).result
    except InputError as err:
        return CaseResult.failed(case, err.user_message)
    return CaseResult(case=case, probability=result.probability, label=result.label, abstained=result.abstained)
