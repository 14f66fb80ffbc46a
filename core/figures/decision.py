"""The decision rule's error-reject curve: error among the calls against the share of studies called, one line
per cohort, the served target error marked on each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go


def error_reject_figure(curves: Mapping[str, Sequence[Mapping[str, float]]], served: float,
                        title: str = "Error among calls against the share called") -> go.Figure:
    """``curves``: cohort name -> points (``target_error``, ``call_rate``, ``error_among_calls``), as
    ``core.inference.decision.error_reject_curve`` gives them."""
    figure = go.Figure()
    for name, points in curves.items():
        ordered = sorted(points, key=lambda point: point["call_rate"])
        figure.add_scatter(x=[p["call_rate"] for p in ordered], y=[p["error_among_calls"] for p in ordered],
                           mode="lines+markers", name=name, marker={"size": 5},
                           text=[f"target error {p['target_error']:.2f}" for p in ordered])
        chosen = [p for p in points if abs(p["target_error"] - served) < 1e-9]
        if chosen:
            figure.add_scatter(x=[chosen[0]["call_rate"]], y=[chosen[0]["error_among_calls"]], mode="markers",
                               marker={"size": 14, "symbol": "star"}, name=f"{name}: served ({served:g})")
    figure.update_layout(title=title, xaxis_title="share of studies called",
                         yaxis_title="error among calls", xaxis_range=[0, 1], yaxis_range=[0, 0.5], width=640,
                         height=480)
    return figure
