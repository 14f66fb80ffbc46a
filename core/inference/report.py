"""The result of a prediction (``PredictionResult``), its typed parts, and their one JSON form (``predict --json``,
REST, log, pages).

The keys written here are a contract: scripts read them, so keys are only ever added, never renamed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.ingest.study import Volume
from core.notice import RESEARCH_NOTICE

if TYPE_CHECKING:  # their modules bring torch, MONAI or nibabel; only their to_json is called here
    from core.inference.ood import OodScore
    from core.inference.tumour import Tumour
    from core.preprocess.chain import SkullStripping
    from core.quality.result import QualityCheck


@dataclass(frozen=True)
class Uncertainty:
    """How sure the model is: the spread of its fold models' probabilities, the interval shown beside the
    probability, per-augmentation probabilities, and each fold model's probability; ``method`` says which."""

    std: float
    interval90: tuple[float, float]
    augmentations: tuple[float, ...]
    method: str
    members: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"std": round(self.std, 6), "interval90": [round(v, 6) for v in self.interval90],
                "augmentations": [round(p, 6) for p in self.augmentations], "method": self.method,
                "members": [round(p, 6) for p in self.members]}


@dataclass(frozen=True)
class Provenance:
    """Which model answered: its repo (a Hub id, or a local folder's name, never a server path), the revision
    actually loaded (a commit hash, or "local"), and the preprocessing version it was fed by."""

    repo: str
    revision: str
    preprocessing_version: str

    def to_json(self) -> dict[str, str]:
        return {"repo": self.repo, "revision": self.revision}


@dataclass(frozen=True)
class Timings:
    """Seconds per stage, in the order the stages ran."""

    stages: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, stages: Mapping[str, float]) -> Timings:
        return cls(tuple((name, float(seconds)) for name, seconds in stages.items()))

    def __add__(self, later: Timings) -> Timings:
        """These stages, then ``later``'s (a stage named in both keeps ``later``'s time, in its first place)."""
        merged = dict(self.stages)
        merged.update(later.stages)
        return Timings.of(merged)

    def without(self, name: str) -> Timings:
        return Timings(tuple(stage for stage in self.stages if stage[0] != name))

    def __getitem__(self, name: str) -> float:
        return dict(self.stages)[name]

    def __iter__(self) -> Iterator[tuple[str, float]]:
        return iter(self.stages)

    def to_json(self) -> dict[str, float]:
        return {name: round(seconds, 4) for name, seconds in self.stages}


@dataclass(frozen=True)
class SequenceSource:
    """Which series became a sequence, how it was recognised, and its acquisition geometry."""

    source: str
    identified_by: str
    plane: str
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    axcodes: str
    rescale: tuple[float, float]

    @classmethod
    def of(cls, volume: Volume) -> SequenceSource:
        return cls(volume.source, volume.identified_by, volume.plane, volume.shape,
                   tuple(round(s, 4) for s in volume.spacing_mm), volume.axcodes, volume.rescale)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "identified_by": self.identified_by, "shape": list(self.shape),
                "n_slices": self.shape[2], "spacing_mm": list(self.spacing_mm), "axcodes": self.axcodes,
                "plane": self.plane, "rescale": list(self.rescale)}

    def row(self, sequence: str) -> dict[str, str]:
        """One line of the "which series became which sequence" table (pages, CLI)."""
        return {"sequence": sequence, "source": self.source, "recognised by": self.identified_by,
                "plane": self.plane, "axcodes": self.axcodes, "shape": " x ".join(map(str, self.shape)),
                "spacing (mm)": " x ".join(f"{v:.3g}" for v in self.spacing_mm)}


def sequence_table(sequences: Mapping[str, SequenceSource]) -> list[dict[str, str]]:
    """The "which series became which sequence" table, one row per sequence."""
    return [source.row(name) for name, source in sequences.items()]


@dataclass(frozen=True)
class PredictionResult:
    """What the model says about one study, as ``to_json`` serialises it: no arrays, no patient identifiers."""

    probability: float
    label: str
    threshold: float
    uncertainty: Uncertainty
    sequences: Mapping[str, SequenceSource]
    provenance: Provenance
    study_hash: str
    skull: SkullStripping
    timings: Timings = Timings()
    warnings: tuple[str, ...] = ()
    logged: bool = False
    log_id: int | None = None  # the row of the prediction log this prediction was written to
    tumour: Tumour | None = None
    missing: tuple[str, ...] = ()  # sequences the model was told are absent (blank channels)
    abstained: bool = False
    reasons: tuple[str, ...] = ()
    quality: tuple[QualityCheck, ...] = ()
    ood: OodScore | None = None
    contributions: Mapping[str, float] | None = None  # probability with all present sequences minus without each
    decision: Mapping[str, Any] | None = None  # the decision rule behind the label (rule, target error, n, guarantee)

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``predict --json``, the REST API and the log."""
        return {
            "probability": round(self.probability, 6),
            "label": self.label,
            "threshold": self.threshold,
            "uncertainty": self.uncertainty.to_json(),
            "sequences": {name: source.to_json() for name, source in self.sequences.items()},
            "model": self.provenance.to_json(),
            "preprocessing_version": self.provenance.preprocessing_version,
            "study_hash": self.study_hash,
            "timings_s": self.timings.to_json(),
            "warnings": list(self.warnings),
            "notice": RESEARCH_NOTICE,
            "logged": self.logged,
            "log_id": self.log_id,
            "skull_strip": self.skull.to_json(),
            "tumour": self.tumour.to_json() if self.tumour else None,
            "missing": list(self.missing),
            "abstained": self.abstained,
            "reasons": list(self.reasons),
            "quality": [check.to_json() for check in self.quality],
            "ood": self.ood.to_json() if self.ood else None,
            "contributions": ({name: round(delta, 4) for name, delta in self.contributions.items()}
                              if self.contributions is not None else None),
            "decision": dict(self.decision) if self.decision is not None else None,
        }
