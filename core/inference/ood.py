"""Out-of-distribution gate: how unlike the training cases a study is, as a Mahalanobis distance on the network's
pooled features, against reference statistics fitted on in-distribution cases and kept in the model folder. A
study missing sequences is compared with a reference fitted on the same cases with the same sequences blanked
(one reference per availability pattern), so a missing sequence alone does not make a study look foreign.

The reference (``ood.json``: mean, precision, threshold) is fitted with scikit-learn's Ledoit-Wolf shrunk
covariance (stable with fewer cases than feature dimensions). The threshold is the THRESHOLD_PERCENTILE-th
percentile of out-of-fold distances of the in-distribution cases (each case scored by a fit without it, so the
threshold is not set by distances the fit has already shrunk).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.inference.tolerance import beyond

OOD_FILE = "ood.json"
THRESHOLD_PERCENTILE = 99.0
"""Percentile of in-distribution (out-of-fold) distances beyond which a study is out of distribution."""
FOLDS = 5
FEATURE_LAYER = "members.0.unet.down4"
"""Where pooled features are read: the deepest encoder stage of the first fold network."""


def feature_layer(model: torch.nn.Module) -> str:
    """The name of the layer whose globally pooled output is the feature vector."""
    if FEATURE_LAYER not in dict(model.named_modules()):
        raise ValueError(f"The network has no layer '{FEATURE_LAYER}'; expected one to pool features from.")
    return FEATURE_LAYER


@contextlib.contextmanager
def pooled_features(model: torch.nn.Module) -> Iterator[list[np.ndarray]]:
    """While open, every forward pass of the calling thread appends its (batch, channels) global average of
    ``feature_layer``; passes of other threads (other studies scored at once by the same model) are not kept."""
    captured: list[np.ndarray] = []
    module = dict(model.named_modules())[feature_layer(model)]
    owner = threading.get_ident()

    def keep(_module, _inputs, output) -> None:
        if threading.get_ident() == owner:
            captured.append(output.detach().float().flatten(2).mean(dim=2).cpu().numpy())

    handle = module.register_forward_hook(keep)
    try:
        yield captured
    finally:
        handle.remove()


@dataclass(frozen=True)
class OodScore:
    """A study's distance and the threshold it is compared with."""

    score: float
    threshold: float
    percentile: float = THRESHOLD_PERCENTILE  # of in-distribution distances the threshold was set at
    missing: tuple[str, ...] = ()  # the sequences blanked in the reference the study was compared with

    @property
    def beyond(self) -> bool:
        """The score exceeds the threshold by more than floating-point noise (core/inference/tolerance.py)."""
        return beyond(self.score, self.threshold)

    def to_json(self) -> dict[str, float]:
        return {"score": round(self.score, 4), "threshold": round(self.threshold, 4)}


@dataclass(frozen=True)
class OodReference:
    """Mean and precision of in-distribution features, and the distance threshold."""

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    percentile: float
    n_cases: int
    layer: str

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of ``features`` (or of one vector)."""
        centred = np.atleast_2d(features) - self.mean
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", centred, self.precision, centred), 0.0))

    def score(self, features: np.ndarray, missing: tuple[str, ...] = ()) -> OodScore:
        return OodScore(float(self.distance(features)[0]), self.threshold, self.percentile, tuple(missing))

    @classmethod
    def fit(cls, features: np.ndarray, layer: str, percentile: float = THRESHOLD_PERCENTILE,
            folds: int = FOLDS, seed: int = 0) -> OodReference:
        """Ledoit-Wolf fit on all rows; threshold from out-of-fold distances (fewer folds for a handful of cases)."""
        from sklearn.covariance import LedoitWolf  # scikit-learn loads in ~1 s: only when a reference is fitted

        features = np.asarray(features, np.float64)
        if len(features) < 4:
            raise ValueError(f"{len(features)} cases are too few for the OOD reference; expected at least 4.")
        folds = min(folds, len(features) // 2)
        order = np.random.default_rng(seed).permutation(len(features))
        held_out = np.empty(len(features))
        for fold in np.array_split(order, folds):
            rest = np.setdiff1d(order, fold)
            estimate = LedoitWolf().fit(features[rest])
            centred = features[fold] - estimate.location_
            held_out[fold] = np.sqrt(np.einsum("ij,jk,ik->i", centred, estimate.precision_, centred))
        estimate = LedoitWolf().fit(features)
        return cls(estimate.location_, estimate.precision_, float(np.percentile(held_out, percentile)), percentile,
                   len(features), layer)

    def to_json(self) -> dict[str, Any]:
        return {"method": "Mahalanobis distance, Ledoit-Wolf covariance", "layer": self.layer,
                "percentile": self.percentile, "n_cases": self.n_cases, "threshold": self.threshold,
                "mean": _rounded(self.mean), "precision": _rounded(self.precision)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OodReference:
        return cls(np.asarray(data["mean"]), np.asarray(data["precision"]), float(data["threshold"]),
                   float(data["percentile"]), int(data["n_cases"]), str(data["layer"]))

    def write(self, folder: Path) -> Path:
        return OodGate({(): self}).write(folder)

    @classmethod
    def read(cls, folder: Path) -> OodGate | None:
        """The gate in a model folder (see ``OodGate.read``)."""
        return OodGate.read(folder)


def _rounded(values: np.ndarray) -> list:
    """Seven significant digits: enough for a distance, a third of the file."""
    return np.vectorize(lambda v: float(f"{v:.7g}"))(values).tolist()


@dataclass(frozen=True)
class OodGate:
    """One reference per availability pattern, keyed by the sequences missing (``()``: all four present)."""

    references: dict[tuple[str, ...], OodReference]

    def reference(self, missing: tuple[str, ...] = ()) -> OodReference:
        """The reference fitted with exactly these sequences blanked (the all-four one when there is none)."""
        return self.references.get(tuple(missing), self.references[()])

    def score(self, features: np.ndarray, missing: tuple[str, ...] = ()) -> OodScore:
        """The distance to the reference of the study's own availability pattern."""
        fitted = tuple(missing) if tuple(missing) in self.references else ()
        return self.reference(fitted).score(features, fitted)

    @property
    def n_cases(self) -> int:
        return self.references[()].n_cases

    @property
    def layer(self) -> str:
        return self.references[()].layer

    @property
    def threshold(self) -> float:
        return self.references[()].threshold

    @property
    def percentile(self) -> float:
        return self.references[()].percentile

    def write(self, folder: Path) -> Path:
        """``ood.json``: the all-four reference at the top level, each pattern's under ``patterns``."""
        path = Path(folder) / OOD_FILE
        patterns = [{"missing": list(missing), **reference.to_json()}
                    for missing, reference in self.references.items() if missing]
        path.write_text(json.dumps({**self.references[()].to_json(), "patterns": patterns}))
        return path

    @classmethod
    def read(cls, folder: Path) -> OodGate | None:
        """The gate in a model folder, or None when it has none (the gate is then off, and says so)."""
        path = Path(folder) / OOD_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        references = {(): OodReference.from_json(data)}
        for pattern in data.get("patterns", []):
            references[tuple(pattern["missing"])] = OodReference.from_json(pattern)
        return cls(references)
