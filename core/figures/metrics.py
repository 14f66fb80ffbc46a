"""Cohort figures: ROC, calibration, probability distributions by label, confusion matrix."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.figures.prediction import METHYLATED_COLOUR as METHYLATED
from core.figures.prediction import UNMETHYLATED_COLOUR as UNMETHYLATED
from core.metrics import Confusion, Metrics


def roc_figure(roc: dict[str, list[float]], metrics: Metrics, title: str = "ROC") -> go.Figure:
    """ROC curve with the AUC and its 95% interval in the legend, and the chance diagonal."""
    low, high = metrics.auc_ci95
    figure = go.Figure()
    figure.add_scatter(x=roc["fpr"], y=roc["tpr"], mode="lines",
                       name=f"AUC {metrics.auc:.3f} (95% CI {low:.3f}-{high:.3f}), n={metrics.n}")
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="chance")
    figure.update_layout(title=title, xaxis_title="false positive rate", yaxis_title="true positive rate",
                         xaxis_range=[0, 1], yaxis_range=[0, 1], width=560, height=520)
    return figure


def calibration_figure(curve: dict[str, list[float]], title: str = "Calibration") -> go.Figure:
    """Observed frequency against mean predicted probability per bin (marker size: cases in the bin)."""
    figure = go.Figure()
    figure.add_scatter(x=curve["predicted"], y=curve["observed"], mode="lines+markers", name="model",
                       marker={"size": [6 + 2 * min(c, 20) for c in curve["count"]]},
                       text=[f"{c} cases" for c in curve["count"]])
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                       name="perfectly calibrated")
    figure.update_layout(title=title, xaxis_title="mean predicted probability", yaxis_title="observed fraction",
                         xaxis_range=[0, 1], yaxis_range=[0, 1], width=560, height=520)
    return figure


def probability_histogram(probabilities: np.ndarray, labels: np.ndarray | None, threshold: float,
                          marks: list[float] | None = None, title: str = "Predicted probabilities") -> go.Figure:
    """Distribution of predicted P(methylated) by true label (overlaid), the threshold, and marked probabilities
    (this session's predictions) as vertical lines."""
    figure = go.Figure()
    bins = {"start": 0.0, "end": 1.0, "size": 0.05}
    if labels is None or np.all(np.isnan(labels.astype(float))):
        figure.add_histogram(x=probabilities, xbins=bins, name="all cases", marker_color="#72b7b2")
    else:
        for value, name, colour in ((0, "unmethylated", UNMETHYLATED), (1, "methylated", METHYLATED)):
            figure.add_histogram(x=probabilities[labels == value], xbins=bins, name=f"true {name}",
                                 marker_color=colour, opacity=0.6)
    figure.add_vline(x=threshold, line_dash="dash", line_color="black", annotation_text="threshold")
    for number, mark in enumerate(marks or [], start=1):
        figure.add_vline(x=mark, line_color="#f58518", line_width=3,
                         annotation_text=f"your #{number}", annotation_position="top left")
    figure.update_layout(barmode="overlay", title=title, xaxis_title="predicted P(methylated)",
                         yaxis_title="cases", xaxis_range=[0, 1], height=380)
    return figure


def confusion_figure(confusion: Confusion, threshold: float) -> go.Figure:
    """2x2 confusion matrix (rows: true label, columns: predicted) with counts and row percentages."""
    cells = np.array([[confusion.tn, confusion.fp], [confusion.fn, confusion.tp]])
    totals = np.maximum(cells.sum(axis=1, keepdims=True), 1)
    text = [[f"{cells[r, c]}<br>({100 * cells[r, c] / totals[r, 0]:.0f}% of row)" for c in range(2)] for r in range(2)]
    names = ["unmethylated", "methylated"]
    figure = go.Figure(go.Heatmap(z=cells, x=[f"predicted {n}" for n in names], y=[f"true {n}" for n in names],
                                  text=text, texttemplate="%{text}", colorscale="Blues", showscale=False))
    figure.update_layout(title=f"Confusion matrix at threshold {threshold:.2f}", yaxis_autorange="reversed",
                         height=380, width=520)
    return figure
