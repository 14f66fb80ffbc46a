"""Plotly figures shared by the pages and the reports (ROC, calibration)."""

from __future__ import annotations

import plotly.graph_objects as go

from core.train.metrics import Metrics


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
