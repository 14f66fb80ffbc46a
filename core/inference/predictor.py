"""Study -> Prediction: probability of MGMT methylation, its uncertainty, the tumour segmentation and its
volumes, Grad-CAM, timings and provenance.

Uncertainty combines test-time augmentation (left-right flip) with Monte-Carlo dropout in the head: the
encoder-decoder runs once per augmentation, the dropout head samples many times on those features (cheap).
Probabilities pass through the calibration map stored in the model's config.json. Missing sequences are blank
channels, and the model is told which are missing (its availability vector).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from monai.visualize import GradCAMpp

from core.inference.abstention import decide
from core.inference.ood import OodReference, pooled_features
from core.inference.report import PredictionResult, Provenance, SequenceSource, Timings, Uncertainty
from core.inference.tumour import Tumour
from core.ingest.study import Study
from core.model.hub import ModelSource, load_model
from core.model.network import MGMTNet
from core.preprocess.chain import PreparedStudy, prepare
from core.preprocess.display import DisplayVolumes, timed_display_volumes
from core.quality.checks import run_checks

DROPOUT_SAMPLES = 32
"""Monte-Carlo dropout draws of the head per augmentation."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PredictionArtefacts:
    """The arrays behind a result, never serialised: what the pages draw, the PDF cuts and the OOD gate reads."""

    prepared: PreparedStudy  # the network's input and the intensities it came from, on the model grid
    cam: np.ndarray | None  # (D, H, W) in [0, 1] on prepared.grid: evidence for the label, 1 = strongest
    segmentation: np.ndarray  # (D, H, W) uint8 BraTS labels on prepared.grid
    pooled_features: np.ndarray  # the network's pooled features (the OOD gate's input)
    logit: float  # uncalibrated, averaged over the augmentations
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
    """What one pass of the model (with flip and dropout samples) says about a prepared study."""

    probability: float  # calibrated, averaged over the augmentations
    probabilities: np.ndarray  # per augmentation, calibrated
    samples: np.ndarray  # Monte-Carlo dropout draws, calibrated
    logit: float  # uncalibrated, averaged over the augmentations
    segmentation: np.ndarray  # (D, H, W) uint8 BraTS labels
    cam: np.ndarray | None
    missing: tuple[str, ...]
    seconds: float


class _BothClasses(torch.nn.Module):
    """The one-logit network seen as two classes (-logit, +logit), so a map can explain either label."""

    def __init__(self, model: MGMTNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.model(x)  # blank channels are read as missing sequences
        return torch.cat([-logit, logit], dim=1)


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
        # Grad-CAM++ (MONAI): localises the tumour far better than plain Grad-CAM on our trained models (see
        # MGMTNet.cam_layer); our own normalisation, since MONAI's default maps the maximum to 0.
        # .eval(): MONAI puts the wrapped module back in its previous mode after each map, and a fresh wrapper
        # would be in training mode, switching dropout and batch norm on for every later prediction.
        self._cam = GradCAMpp(nn_module=_BothClasses(self.model).eval(), target_layers=f"model.{model.cam_layer}",
                              postprocessing=lambda m: m)
        self._lock = threading.Lock()
        self.ood_reference = OodReference.read(source.folder)

    @classmethod
    def load(cls, repo_or_dir: str | None = None, revision: str | None = None) -> Predictor:
        model, source = load_model(repo_or_dir, revision)
        return cls(model, source)

    def predict(self, study: Study, with_cam: bool = True, progress: Progress | None = None,
                missing: Sequence[str] = (), with_contributions: bool = True,
                with_display: bool = False) -> Prediction:
        """Prepare the study as the model's config says, run the model with TTA, and explain it with Grad-CAM.
        ``missing`` names sequences to treat as absent besides those the study lacks (blanked, and the model told
        so); ``with_contributions``: also the per-sequence contributions (one batched pass); ``with_display``: the
        viewer's volumes at the study's own resolution (``display`` in the timings)."""
        progress = progress or (lambda stage: None)
        progress("preprocessing")
        prepared = self.prepare(study)
        timings = dict(prepared.timings_s)
        progress("model")
        missing = tuple(name for name in self.config.preprocessing.sequences if name in (*study.missing, *missing))
        with pooled_features(self.model) as pooled:  # the first pass: the input and its flip
            assessed = self.assess(prepared, missing, with_cam, progress)
        timings["model_and_cam" if with_cam else "model"] = assessed.seconds
        probability = assessed.probability
        started = time.perf_counter()
        contributions = (self._contributions(prepared, assessed.missing, float(assessed.probabilities[0]))
                         if with_contributions else None)
        timings["contributions"] = time.perf_counter() - started
        threshold = self.config.threshold
        low, high = np.percentile(assessed.samples, [5, 95])
        viewer = None
        if with_display:  # the viewer: the study at its own resolution, with the map and the segmentation on it
            viewer, timings["display"] = timed_display_volumes(study, prepared, assessed.cam, assessed.segmentation)
        uncertainty = Uncertainty(
            std=float(assessed.samples.std()), interval90=(float(low), float(high)),
            augmentations=tuple(float(p) for p in assessed.probabilities),
            method=f"left-right flip x {DROPOUT_SAMPLES} Monte-Carlo dropout draws of the head")
        started = time.perf_counter()
        tumour = Tumour.measure(assessed.segmentation, prepared.grid)
        vector = pooled[0].mean(axis=0)
        quality = run_checks(study, prepared, tumour.volumes_ml)
        ood = self.ood_reference.score(vector) if self.ood_reference else None
        decision = decide(probability, uncertainty.interval90, threshold, self.config.labels, quality, ood)
        timings["quality"] = time.perf_counter() - started
        result = PredictionResult(
            probability=probability, label=decision.label, threshold=threshold, uncertainty=uncertainty,
            sequences={name: SequenceSource.of(study[name]) for name in prepared.sequences
                       if name in study.volumes},
            provenance=Provenance(self.source.repo, self.source.revision, self.config.preprocessing.version),
            study_hash=study.study_hash, skull=prepared.skull, timings=Timings.of(timings),
            warnings=tuple(study.warnings) + prepared.warnings, tumour=tumour, missing=assessed.missing,
            abstained=decision.abstained, reasons=decision.reasons, quality=quality, ood=ood,
            contributions=contributions)
        artefacts = PredictionArtefacts(prepared, assessed.cam, assessed.segmentation, vector, assessed.logit,
                                        viewer)
        return Prediction(result, artefacts)

    def _contributions(self, prepared: PreparedStudy, missing: tuple[str, ...], probability: float
                       ) -> dict[str, float]:
        """Per present sequence, the probability (dropout off, no flip) minus the probability without it (its
        channel blanked and the availability vector saying so). One batched pass of the network."""
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
        """The model on a prepared study (``missing`` sequences blanked): calibrated probability, its samples,
        the segmentation (BraTS labels on the grid) and optionally the class activation map."""
        available = self.availability(missing)
        x = torch.from_numpy(prepared.image[None]).to(self.device) * available[:, :, None, None, None]
        with self._lock:
            started = time.perf_counter()
            features, segmentation, cam = self._features_and_cam(x, available, with_cam, progress)
            logits, probabilities, samples = self._probabilities(features)
            seconds = time.perf_counter() - started
        return Assessment(float(probabilities.mean()), probabilities, samples, float(logits.mean()), segmentation,
                          cam, tuple(name for name in self.config.preprocessing.sequences if name in missing),
                          seconds)

    def _features_and_cam(self, x: torch.Tensor, available: torch.Tensor, with_cam: bool,
                          progress: Progress | None = None) -> tuple[torch.Tensor, np.ndarray, np.ndarray | None]:
        """Head features of the input and its left-right flip; the segmentation (softmax averaged over the
        flip, as BraTS labels); the class activation map of the predicted class (evidence for the label shown),
        from Grad-CAM++ on the unflipped input."""
        flipped = torch.flip(x, dims=[2])  # grid axis 0 runs left-right (RAS)
        with torch.no_grad(), self._autocast():
            features, seg_logits = self.model.encode(torch.cat([x, flipped]), available.repeat(2, 1))
            features = features.float()
            soft = torch.softmax(seg_logits.float(), dim=1)
            soft = (soft[0] + torch.flip(soft[1], dims=[1])) / 2
        segmentation = np.asarray(self.config.segmentation_labels, np.uint8)[soft.argmax(dim=0).cpu().numpy()]
        if not with_cam:
            return features, segmentation, None
        with torch.no_grad():
            logit = self.model.calibrated(self.model.head(features))
            predicted = int(torch.sigmoid(logit).mean() >= self.config.threshold)
        if progress:
            progress("Grad-CAM")
        raw = self._cam(x, class_idx=predicted)
        cam = raw[0, 0].detach().float().cpu().numpy()
        peak = float(cam.max())
        return features, segmentation, (cam / peak if peak > 0 else np.zeros_like(cam)).astype(np.float32)

    def _probabilities(self, features: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-augmentation uncalibrated logits and calibrated probabilities (dropout off), and Monte-Carlo
        dropout samples of the calibrated probability (dropout on)."""
        head = self.model.head
        with torch.no_grad():
            logits = head(features)
            deterministic = torch.sigmoid(self.model.calibrated(logits)).squeeze(1).cpu().numpy()
            head.train()
            try:
                with torch.random.fork_rng(devices=[]):  # seeded: the same study gives the same interval
                    torch.manual_seed(0)
                    draws = torch.sigmoid(self.model.calibrated(head(features.repeat(DROPOUT_SAMPLES, 1))))
            finally:
                head.eval()
        return logits.squeeze(1).cpu().numpy(), deterministic, draws.squeeze(1).cpu().numpy()

    def _autocast(self):
        """Mixed precision on a GPU; a no-op on the CPU."""
        return torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.device.type == "cuda")
