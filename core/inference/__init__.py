"""Study -> Prediction: probability, uncertainty, Grad-CAM, timings, provenance.

``Prediction`` and ``Predictor`` bring torch and MONAI with them, so they are imported on first use: the typed
report parts (``core.inference.report``) stay cheap for the server's start-up and the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.inference.predictor import Prediction, Predictor

__all__ = ["Prediction", "Predictor"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from core.inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'core.inference' has no attribute '{name}'")
