"""Plotly figures for the pages: the prediction gauge, the linked slice viewer (``viewer.py``), cohort metrics."""

from core.figures.metrics import (
    calibration_figure,
    confusion_figure,
    probability_histogram,
    roc_figure,
)
from core.figures.prediction import gauge_figure

__all__ = ["calibration_figure", "confusion_figure", "gauge_figure", "probability_histogram", "roc_figure"]
