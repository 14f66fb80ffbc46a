"""A model folder's config.json, parsed once into a frozen, validated ``ModelConfig``.

``PyTorchModelHubMixin`` writes the network's init arguments as config.json; this module reads them back with
every field checked, so preprocessing, training, the predictor and the pages read typed values, never raw keys,
and a wrong file is reported as ``ModelUnavailable`` naming the file and the field. Its ``preprocessing`` field is
the chain's own record, ``core.preprocess.settings.Preprocessing``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ModelUnavailable
from core.metrics import Metrics
from core.preprocess.settings import ConfigFieldError, Preprocessing
from core.regions import LABELS


@dataclass(frozen=True)
class TrainingMetrics:
    """The cross-validated (out-of-fold) metrics a trained model carries, and over how many folds."""

    metrics: Metrics
    cv_folds: int | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainingMetrics | None:
        """None for a model without metrics (untrained, or trained without cross-validation)."""
        if not data:
            return None
        try:
            return cls(Metrics.from_json(dict(data)), int(data["cv_folds"]) if "cv_folds" in data else None)
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigFieldError("metrics", f"is not a metrics record ({type(err).__name__}: {err})") from err

    def to_json(self) -> dict[str, Any]:
        return {**({"cv_folds": self.cv_folds} if self.cv_folds is not None else {}), **self.metrics.to_json()}


@dataclass(frozen=True)
class Calibration:
    """The map from the network's logit to a calibrated one (Platt: ``slope * logit + intercept``), fitted by
    ``train`` on out-of-fold logits; the identity for a model without one."""

    method: str = "none"
    slope: float = 1.0
    intercept: float = 0.0
    fitted_on: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Calibration:
        if not data:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigFieldError("calibration", f"is {type(data).__name__}; expected an object")
        slope, intercept = data.get("slope", 1.0), data.get("intercept", 0.0)
        if not isinstance(slope, int | float) or not isinstance(intercept, int | float) or slope <= 0:
            raise ConfigFieldError("calibration", f"has slope {slope!r} and intercept {intercept!r}; expected a "
                                   "positive slope and a number")
        return cls(str(data.get("method", "platt")), float(slope), float(intercept), str(data.get("fitted_on", "")))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


SEGMENT_LABELS = (0, *(label.value for label in LABELS))
"""BraTS label value of each segmentation channel: background (0), then ``core.regions.LABELS`` (necrotic core 1,
oedema 2, enhancing tumour 4)."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything a model folder says about itself: the network, its input, its labels and its record."""

    architecture: str
    preprocessing: Preprocessing
    labels: tuple[str, str] = ("unmethylated", "methylated")
    threshold: float = 0.5
    metrics: TrainingMetrics | None = None
    training: Mapping[str, Any] = field(default_factory=dict)
    calibration: Calibration = Calibration()
    segmentation_labels: tuple[int, ...] = SEGMENT_LABELS

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Validated config; ConfigFieldError naming the first wrong field."""
        if not isinstance(data, Mapping):
            raise ConfigFieldError("(top level)", f"is {type(data).__name__}; expected an object")
        architecture = data.get("architecture", "tumour-unet")
        if not isinstance(architecture, str):
            raise ConfigFieldError("architecture", f"is {architecture!r}; expected a name")
        labels = data.get("labels") or ["unmethylated", "methylated"]
        if not isinstance(labels, list | tuple) or len(labels) != 2 or not all(isinstance(x, str) for x in labels):
            raise ConfigFieldError("labels", f"is {labels!r}; expected two names (negative class first)")
        threshold = data.get("threshold", 0.5)
        if not isinstance(threshold, int | float) or not 0 < threshold < 1:
            raise ConfigFieldError("threshold", f"is {threshold!r}; expected a number between 0 and 1")
        training = data.get("training") or {}
        if not isinstance(training, Mapping):
            raise ConfigFieldError("training", f"is {type(training).__name__}; expected an object")
        segments = data.get("segmentation_labels") or list(SEGMENT_LABELS)
        if not isinstance(segments, list | tuple) or sorted(segments) != sorted(SEGMENT_LABELS):
            raise ConfigFieldError("segmentation_labels", f"is {segments!r}; expected the BraTS values "
                                   f"{list(SEGMENT_LABELS)} in channel order")
        return cls(architecture=architecture, preprocessing=Preprocessing.from_json(data.get("preprocessing") or {}),
                   labels=(labels[0], labels[1]), threshold=float(threshold),
                   metrics=TrainingMetrics.from_json(data.get("metrics") or {}), training=dict(training),
                   calibration=Calibration.from_json(data.get("calibration")),
                   segmentation_labels=tuple(int(v) for v in segments))

    @property
    def metrics_json(self) -> dict[str, Any]:
        """The metrics as config.json holds them (empty for a model without)."""
        return self.metrics.to_json() if self.metrics else {}

    @classmethod
    def read(cls, path: Path) -> ModelConfig:
        """The config.json at ``path``; ModelUnavailable naming the file and the field when it is not usable."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise ModelUnavailable(f"The model config '{path}' cannot be read ({err}); expected the JSON file "
                                   "written by save_pretrained.") from err
        try:
            return cls.from_json(data)
        except ConfigFieldError as err:
            raise ModelUnavailable(f"The model config '{path}' is not usable: {err}.") from err
