"""The outcome of scoring one study of a cohort, and the per-case CSV of ``batch --out``."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InputError

OUT_COLUMNS = ("case", "probability", "label", "status", "reason", "MGMT_value")
"""Columns of ``batch --out``: the predicted label (methylated, unmethylated, indeterminate), ``ok``, ``abstained``
(the probability is still given) or ``failed`` with its reason, and the known label (0/1) when ``--labels`` was
given."""


@dataclass(frozen=True)
class CaseResult:
    """One study's outcome: its probability and predicted label, or why it could not be scored."""

    case: str
    probability: float | None
    label: str | None
    reason: str | None = None
    """Why the study failed (the first line of the InputError it raised); None when it was scored."""
    abstained: bool = False
    """The model declined to call this study (a failed quality check, or unlike its training data)."""
    details: Mapping[str, Any] | None = None
    """What a task other than plain scoring measured (``evaluate``: logit, probabilities without sequences, Dice)."""

    @property
    def status(self) -> str:
        if self.reason is not None:
            return "failed"
        return "abstained" if self.abstained else "ok"

    @classmethod
    def failed(cls, case: str, reason: str) -> CaseResult:
        return cls(case=case, probability=None, label=None, reason=reason.splitlines()[0] if reason else "failed")


def write_results(path: Path, results: list[CaseResult], truth: dict[str, int]) -> None:
    """Write one CSV line per case (OUT_COLUMNS), in case order; the file appears whole (written, then renamed)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(OUT_COLUMNS)
            for result in sorted(results, key=lambda found: found.case):
                writer.writerow([result.case, "" if result.probability is None else f"{result.probability:.9f}",
                                 result.label or "", result.status, result.reason or "",
                                 truth.get(result.case, "")])
        partial.replace(path)
    except OSError as err:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass  # its folder is not one: nothing was written
        raise InputError(f"The results file '{path}' cannot be written ({err.strerror or err}); expected a "
                         "writable location for --out.") from err
