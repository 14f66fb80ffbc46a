"""Study -> Prediction: probability of MGMT methylation, its uncertainty, Grad-CAM, timings and provenance.

Uncertainty combines test-time augmentation (left-right flip) with Monte-Carlo dropout in the head: the
backbone runs once per augmentation, the dropout head samples many times on those features (cheap).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.visualize import GradCAMpp

from core.inference.abstention import decide
from core.inference.ood import OodReference, OodScore, pooled_features
from core.inference.report import Provenance, SequenceSource, Timings, Uncertainty
from core.ingest.study import Study
from core.model.hub import ModelSource, load_model
from core.model.network import MGMTNet
from core.notice import RESEARCH_NOTICE
from core.preprocess.chain import PreparedStudy, prepare
from core.quality.checks import run_checks
from core.quality.result import QualityCheck

DROPOUT_SAMPLES = 32
"""Monte-Carlo dropout draws of the head per augmentation."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Prediction:
    """What the model says about one study, and everything needed to show and trace it."""

    probability: float
    label: str
    threshold: float
    uncertainty: Uncertainty
    cam: np.ndarray | None  # (D, H, W) in [0, 1] on prepared.grid: evidence for ``label``, 1 = strongest
    prepared: PreparedStudy
    sequences: Mapping[str, SequenceSource]
    provenance: Provenance
    study_hash: str
    timings: Timings = Timings()
    warnings: tuple[str, ...] = ()
    logged: bool = False
    log_id: int | None = None  # the row of the prediction log this prediction was written to
    # --- knowing when not to answer (issue 13) ---
    abstained: bool = False
    reasons: tuple[str, ...] = ()
    quality: tuple[QualityCheck, ...] = ()
    ood: OodScore | None = None
    missing: tuple[str, ...] = ()
    contributions: Mapping[str, float] | None = None  # probability with all present sequences minus without each
    features: np.ndarray | None = None  # pooled network features (the OOD gate's input; never in JSON)

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``predict --json``, the REST API and the log (no arrays, no patient identifiers)."""
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
            "skull_strip": self.prepared.skull.to_json(),
            "abstained": self.abstained,
            "reasons": list(self.reasons),
            "quality": [check.to_json() for check in self.quality],
            "ood": self.ood.to_json() if self.ood else None,
            "missing": list(self.missing),
            "contributions": ({name: round(delta, 4) for name, delta in self.contributions.items()}
                              if self.contributions is not None else None),
        }


class _BothClasses(torch.nn.Module):
    """The one-logit network seen as two classes (-logit, +logit), so a map can explain either label."""

    def __init__(self, model: MGMTNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logit = self.model(x)
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
                with_contributions: bool = True) -> Prediction:
        """Prepare the study as the model's config says, run the model with TTA, and explain it with Grad-CAM;
        ``with_contributions``: also the per-sequence contributions (one batched pass per present sequence)."""
        progress = progress or (lambda stage: None)
        progress("preprocessing")
        prepared = prepare(study, self.config.preprocessing)
        timings = dict(prepared.timings_s)
        x = torch.from_numpy(prepared.image[None]).to(self.device)
        progress("model")
        with self._lock:
            started = time.perf_counter()
            with pooled_features(self.model) as pooled:
                features, cam = self._features_and_cam(x, with_cam, progress)
            probabilities, samples = self._probabilities(features)
            timings["model_and_cam" if with_cam else "model"] = time.perf_counter() - started
            started = time.perf_counter()
            contributions = (self._contributions(x, study.missing, float(probabilities[0])) if with_contributions
                             else None)
            timings["contributions"] = time.perf_counter() - started
        probability = float(probabilities.mean())
        threshold = self.config.threshold
        low, high = np.percentile(samples, [5, 95])
        uncertainty = Uncertainty(
            std=float(samples.std()), interval90=(float(low), float(high)),
            augmentations=tuple(float(p) for p in probabilities),
            method=f"left-right flip x {DROPOUT_SAMPLES} Monte-Carlo dropout draws of the head")
        started = time.perf_counter()
        vector = pooled[0].mean(axis=0)  # the input and its flip
        quality = run_checks(study, prepared)
        ood = self.ood_reference.score(vector) if self.ood_reference else None
        decision = decide(probability, uncertainty.interval90, threshold, self.config.labels, quality, ood)
        timings["quality"] = time.perf_counter() - started
        return Prediction(
            probability=probability,
            label=decision.label,
            threshold=threshold,
            uncertainty=uncertainty,
            cam=cam,
            prepared=prepared,
            sequences={name: SequenceSource.of(study[name]) for name in prepared.sequences if name in study.volumes},
            provenance=Provenance(self.source.repo, self.source.revision, self.config.preprocessing.version),
            study_hash=study.study_hash,
            timings=Timings.of(timings),
            warnings=tuple(study.warnings) + prepared.warnings,
            abstained=decision.abstained, reasons=decision.reasons, quality=quality, ood=ood,
            missing=study.missing, contributions=contributions, features=vector,
        )

    def _contributions(self, x: torch.Tensor, missing: tuple[str, ...], probability: float) -> dict[str, float]:
        """Per present sequence, the probability (dropout off, no flip) minus the probability without it: the
        sequence's channel blanked, which the network reads as a missing sequence. One batched pass."""
        sequences = self.config.preprocessing.sequences
        present = [i for i, name in enumerate(sequences) if name not in missing]
        if len(present) < 2:
            return {}
        variants = x.repeat(len(present), 1, 1, 1, 1)
        for row, channel in enumerate(present):
            variants[row, channel] = 0
        calibrate = getattr(self.model, "calibrated", lambda logits: logits)
        with torch.no_grad(), self._autocast():
            without = torch.sigmoid(calibrate(self.model(variants).float())).squeeze(1).cpu().numpy()
        return {sequences[channel]: probability - float(p) for channel, p in zip(present, without, strict=True)}

    def _features_and_cam(self, x: torch.Tensor, with_cam: bool,
                          progress: Progress | None = None) -> tuple[torch.Tensor, np.ndarray | None]:
        """Backbone features of the input and its left-right flip; the class activation map of the predicted
        class (evidence for the label shown), from Grad-CAM++ on the unflipped input."""
        flipped = torch.flip(x, dims=[2])  # grid axis 0 runs left-right (RAS)
        with torch.no_grad(), self._autocast():
            features = self.model.backbone(torch.cat([x, flipped])).float()
        if not with_cam:
            return features, None
        with torch.no_grad():
            predicted = int(torch.sigmoid(self.model.head(features)).mean() >= self.config.threshold)
        if progress:
            progress("Grad-CAM")
        raw = self._cam(x, class_idx=predicted)
        cam = raw[0, 0].detach().float().cpu().numpy()
        peak = float(cam.max())
        return features, (cam / peak if peak > 0 else np.zeros_like(cam)).astype(np.float32)

    def _probabilities(self, features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Per-augmentation probabilities (dropout off) and Monte-Carlo dropout samples (dropout on)."""
        head = self.model.head
        with torch.no_grad():
            deterministic = torch.sigmoid(head(features)).squeeze(1).cpu().numpy()
            head.train()
            try:
                with torch.random.fork_rng(devices=[]):  # seeded: the same study gives the same interval
                    torch.manual_seed(0)
                    draws = torch.sigmoid(head(features.repeat(DROPOUT_SAMPLES, 1))).squeeze(1).cpu().numpy()
            finally:
                head.eval()
        return deterministic, draws

    def _autocast(self):
        """Mixed precision on a GPU; a no-op on the CPU."""
        return torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.device.type == "cuda")
