"""Plotly figures for the pages and the reports: the prediction gauge, the slice viewer, cohort metrics."""

from core.figures.metrics import (
    calibration_figure,
    confusion_figure,
    probability_histogram,
    roc_figure,
)
from core.figures.prediction import gauge_figure
from core.figures.slices import VIEWS, slice_figure

__all__ = ["VIEWS", "calibration_figure", "confusion_figure", "gauge_figure", "probability_histogram",
           "roc_figure", "slice_figure"]
