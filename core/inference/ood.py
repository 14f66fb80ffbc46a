"""Out-of-distribution gate: how unlike the training cases a study is, as a Mahalanobis distance on the network's
pooled features, against reference statistics fitted on in-distribution cases and kept in the model folder.

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
from sklearn.covariance import LedoitWolf

from core.inference.tolerance import beyond

OOD_FILE = "ood.json"
THRESHOLD_PERCENTILE = 99.0
"""Percentile of in-distribution (out-of-fold) distances beyond which a study is out of distribution."""
FOLDS = 5
FEATURE_LAYER = "unet.down4"
"""Where pooled features are read: the deepest encoder stage of the network."""


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

    def score(self, features: np.ndarray) -> OodScore:
        return OodScore(float(self.distance(features)[0]), self.threshold, self.percentile)

    @classmethod
    def fit(cls, features: np.ndarray, layer: str, percentile: float = THRESHOLD_PERCENTILE,
            folds: int = FOLDS, seed: int = 0) -> OodReference:
        """Ledoit-Wolf fit on all rows; threshold from out-of-fold distances (fewer folds for a handful of cases)."""
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
                "mean": self.mean.tolist(), "precision": self.precision.tolist()}

    def write(self, folder: Path) -> Path:
        path = Path(folder) / OOD_FILE
        path.write_text(json.dumps(self.to_json()))
        return path

    @classmethod
    def read(cls, folder: Path) -> OodReference | None:
        """The reference in a model folder, or None when it has none (the gate is then off, and says so)."""
        path = Path(folder) / OOD_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(np.asarray(data["mean"]), np.asarray(data["precision"]), float(data["threshold"]),
                   float(data["percentile"]), int(data["n_cases"]), str(data["layer"]))
