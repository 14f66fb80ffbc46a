"""Study -> Prediction: probability of MGMT methylation, its uncertainty, the tumour segmentation and its
volumes, the map of where the logit comes from, timings and provenance.

The model's K fold models are ensembled (mean logit, mean softmax segmentation), as nnU-Net serves its folds; the
mean logit passes through the calibration map fitted on their out-of-fold logits, and the spread shown is the
range of the fold models' calibrated probabilities. A call is made only where the model's conformal decision rule
(``decision.json``) accepts. Missing sequences are blank channels, and the model is told which are missing (its
availability vector).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from core.inference.abstention import decide
from core.inference.attribution import logit_attribution
from core.inference.decision import DecisionRule
from core.inference.ood import OodReference, pooled_features
from core.inference.report import PredictionResult, Provenance, SequenceSource, Timings, Uncertainty
from core.inference.tumour import Tumour
from core.ingest.study import Study
from core.model.hub import ModelSource, load_model
from core.model.network import MGMTNet
from core.preprocess.chain import PreparedStudy, prepare
from core.preprocess.display import DisplayVolumes, timed_display_volumes
from core.preprocess.overlays import TumourProbabilities
from core.quality.checks import run_checks

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PredictionArtefacts:
    """The arrays behind a result, never serialised: what the pages draw, the PDF cuts and the OOD gate reads."""

    prepared: PreparedStudy  # the network's input and the intensities it came from, on the model grid
    cam: np.ndarray | None  # (D, H, W) in [0, 1] on prepared.grid: how strongly each voxel moves the logit
    segmentation: np.ndarray  # (D, H, W) uint8 BraTS labels on prepared.grid
    pooled_features: np.ndarray  # the network's pooled features (the OOD gate's input)
    logit: float  # uncalibrated, the mean over the fold models
    viewer: DisplayVolumes | None = None  # the viewer's uint8 volumes, when asked for (``with_display``)


@dataclass(frozen=True)
class Prediction:
    """What the model says about one study (``result``, the JSON contract) and the arrays behind it."""

    result: PredictionResult
    artefacts: PredictionArtefacts

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``predict --json``, the REST API and the log (the result's)."""
        return self.result.to_json()

    def with_result(self, **changes: Any) -> Prediction:
        """This prediction with some of its result's fields replaced (timings, where it was logged)."""
        return replace(self, result=replace(self.result, **changes))


@dataclass(frozen=True)
class Assessment:
    """What one pass of the fold models says about a prepared study."""

    probability: float  # calibrated mean logit of the fold models
    probabilities: np.ndarray  # per fold model, calibrated
    logit: float  # uncalibrated, the mean over the fold models
    segmentation: np.ndarray  # (D, H, W) uint8 BraTS labels
    cam: np.ndarray | None
    missing: tuple[str, ...]
    seconds: float
    segmentation_probabilities: np.ndarray | None = None  # (classes, D, H, W) softmax, mean of the fold models


def device_for_inference() -> torch.device:
    """The GPU when one is present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Predictor:
    """One loaded model shared by all callers; model passes are serialised, preprocessing runs in parallel."""

    def __init__(self, model: MGMTNet, source: ModelSource, device: torch.device | None = None) -> None:
        self.device = device or device_for_inference()
        self.model = model.to(self.device).eval()
        self.source = source
        self.config = model.config
        self._lock = threading.Lock()
        self.ood_reference = OodReference.read(source.folder)
        self.decision_rule = DecisionRule.read(source.folder)

    @classmethod
    def load(cls, repo_or_dir: str | None = None, revision: str | None = None) -> Predictor:
        model, source = load_model(repo_or_dir, revision)
        return cls(model, source)

    def predict(self, study: Study, with_cam: bool = True, progress: Progress | None = None,
                missing: Sequence[str] = (), with_contributions: bool = True,
                with_display: bool = False) -> Prediction:
        """Prepare the study as the model's config says, run the fold models, and explain the logit.
        ``missing`` names sequences to treat as absent besides those the study lacks (blanked, and the model told
        so); ``with_contributions``: also the per-sequence contributions (one batched pass); ``with_display``: the
        viewer's volumes at the study's own resolution (``display`` in the timings)."""
        progress = progress or (lambda stage: None)
        progress("preprocessing")
        prepared = self.prepare(study)
        timings = dict(prepared.timings_s)
        progress("model")
        missing = tuple(name for name in self.config.preprocessing.sequences if name in (*study.missing, *missing))
        with pooled_features(self.model) as pooled:  # the first pass: the first fold model's features
            assessed = self.assess(prepared, missing, with_cam, progress)
        timings["model_and_cam" if with_cam else "model"] = assessed.seconds
        probability = assessed.probability
        started = time.perf_counter()
        contributions = (self._contributions(prepared, assessed.missing, assessed.probability)
                         if with_contributions else None)
        timings["contributions"] = time.perf_counter() - started
        threshold = self.config.threshold
        viewer = None
        if with_display:  # the viewer: the study at its own resolution, with the map and the segmentation on it
            tumour_probabilities = TumourProbabilities(assessed.segmentation_probabilities,
                                                       self.config.segmentation_labels)
            viewer, timings["display"] = timed_display_volumes(study, prepared, assessed.cam, tumour_probabilities)
        uncertainty = fold_spread(assessed)
        started = time.perf_counter()
        tumour = Tumour.measure(assessed.segmentation, prepared.grid)
        vector = pooled[0].mean(axis=0)
        quality = run_checks(study, prepared, tumour.volumes_ml)
        ood = self.ood_reference.score(vector, assessed.missing) if self.ood_reference else None
        decision = decide(probability, uncertainty.interval90, threshold, self.config.labels, quality, ood,
                          self.decision_rule)
        timings["quality"] = time.perf_counter() - started
        result = PredictionResult(
            probability=probability, label=decision.label, threshold=threshold, uncertainty=uncertainty,
            sequences={name: SequenceSource.of(study[name]) for name in prepared.sequences
                       if name in study.volumes},
            provenance=Provenance(self.source.repo, self.source.revision, self.config.preprocessing.version),
            study_hash=study.study_hash, skull=prepared.skull, timings=Timings.of(timings),
            warnings=tuple(study.warnings) + prepared.warnings, tumour=tumour, missing=assessed.missing,
            abstained=decision.abstained, reasons=decision.reasons, quality=quality, ood=ood,
            contributions=contributions,
            decision=self.decision_rule.to_json() if self.decision_rule else None)
        artefacts = PredictionArtefacts(prepared, assessed.cam, assessed.segmentation, vector, assessed.logit,
                                        viewer)
        return Prediction(result, artefacts)

    def _contributions(self, prepared: PreparedStudy, missing: tuple[str, ...], probability: float
                       ) -> dict[str, float]:
        """Per present sequence, the probability minus the probability without it (its channel blanked and the
        availability vector saying so). One batched pass of each fold model."""
        sequences = self.config.preprocessing.sequences
        present = [i for i, name in enumerate(sequences) if name not in missing]
        if len(present) < 2:
            return {}
        available = self.availability(missing).repeat(len(present), 1)
        for row, channel in enumerate(present):
            available[row, channel] = 0
        x = torch.from_numpy(prepared.image[None]).to(self.device) * available[:, :, None, None, None]
        with self._lock, torch.no_grad(), self._autocast():
            without = torch.sigmoid(self.model.calibrated(self.model(x, available).float())).squeeze(1).cpu().numpy()
        return {sequences[channel]: probability - float(p) for channel, p in zip(present, without, strict=True)}

    def prepare(self, study: Study) -> PreparedStudy:
        """The study on the model grid, as the model's config says (what ``assess`` takes)."""
        return prepare(study, self.config.preprocessing)

    def availability(self, missing: Sequence[str] = ()) -> torch.Tensor:
        """(1, channels) availability vector: 0 for each sequence named in ``missing``."""
        sequences = list(self.config.preprocessing.sequences)
        unknown = [name for name in missing if name not in sequences]
        if unknown:
            raise ValueError(f"unknown sequence(s) {unknown}; expected names from {sequences}")
        if len(set(missing)) >= len(sequences):
            raise ValueError("at least one sequence must be present")
        return torch.tensor([[0.0 if name in missing else 1.0 for name in sequences]], device=self.device)

    def assess(self, prepared: PreparedStudy, missing: Sequence[str] = (), with_cam: bool = False,
               progress: Progress | None = None) -> Assessment:
        """The fold models on a prepared study (``missing`` sequences blanked): calibrated probability of their
        mean logit, each one's calibrated probability, the segmentation (their mean softmax as BraTS labels on the
        grid) and optionally the map of where the logit comes from."""
        available = self.availability(missing)
        x = torch.from_numpy(prepared.image[None]).to(self.device) * available[:, :, None, None, None]
        with self._lock:
            started = time.perf_counter()
            logits, softs = self._members(x, available)
            calibrated = torch.sigmoid(self.model.calibrated(logits)).cpu().numpy()
            probability = float(torch.sigmoid(self.model.calibrated(logits.mean())))
            soft = torch.stack(softs).mean(dim=0)[0]
            segmentation = np.asarray(self.config.segmentation_labels, np.uint8)[soft.argmax(dim=0).cpu().numpy()]
            cam = None
            if with_cam:
                if progress:
                    progress("explanation")
                cam = logit_attribution(self.model.members, softs, available)
            seconds = time.perf_counter() - started
        return Assessment(probability, calibrated, float(logits.mean()), segmentation, cam,
                          tuple(name for name in self.config.preprocessing.sequences if name in missing), seconds,
                          soft.cpu().numpy())

    def _members(self, x: torch.Tensor, available: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each fold model's uncalibrated logit (K,) and softmax segmentation (1, C, D, H, W), dropout off."""
        logits, softs = [], []
        with torch.no_grad(), self._autocast():
            for member in self.model.members:
                features, seg_logits = member.encode(x, available)
                logits.append(member.head(features.float()).float().reshape(()))
                softs.append(torch.softmax(seg_logits.float(), dim=1))
        return torch.stack(logits), softs

    def _autocast(self):
        """Mixed precision on a GPU; a no-op on the CPU."""
        return torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.device.type == "cuda")


def fold_spread(assessed: Assessment) -> Uncertainty:
    """The fold models' disagreement: the range and spread of their calibrated probabilities."""
    members = assessed.probabilities
    return Uncertainty(std=float(members.std()), interval90=(float(members.min()), float(members.max())),
                       augmentations=(assessed.probability,), members=tuple(float(p) for p in members),
                       method=(f"range of the {len(members)} fold models' calibrated probabilities (each trained "
                               "without one fold of the training cases); no test-time augmentation"
                               if len(members) > 1 else "one network: no spread between models, so the interval is "
                               "the probability itself; no test-time augmentation"))
