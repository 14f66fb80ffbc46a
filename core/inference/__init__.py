"""Study -> Prediction: probability, uncertainty, Grad-CAM, timings, provenance."""

from core.inference.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]
