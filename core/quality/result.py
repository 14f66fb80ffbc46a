"""One quality check's verdict: what was checked, on which sequence, pass/warn/fail, the measured value, why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUSES = ("pass", "warn", "fail")
"""pass: nothing to say; warn: shown, the prediction stands; fail: the prediction abstains."""


@dataclass(frozen=True)
class QualityCheck:
    """The result of one check (``sequence`` is None for checks of the whole study)."""

    check: str
    sequence: str | None
    status: str
    value: float | None
    detail: str

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"QualityCheck status is {self.status!r}; expected one of {', '.join(STATUSES)}.")

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "sequence": self.sequence, "status": self.status,
                "value": None if self.value is None else round(float(self.value), 4), "detail": self.detail}
