"""The per-sequence contributions chart of the quality panel."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go


def contributions_figure(contributions: Mapping[str, float]) -> go.Figure:
    """Horizontal bars: how much the probability falls (or rises, negative) when each sequence is left out."""
    names = list(contributions)
    values = [100 * contributions[name] for name in names]
    figure = go.Figure(go.Bar(x=values, y=names, orientation="h",
                              marker_color=["#e45756" if v >= 0 else "#4c78a8" for v in values],
                              text=[f"{v:+.1f}" for v in values], textposition="auto"))
    figure.update_layout(height=60 + 40 * len(names), margin={"l": 10, "r": 10, "t": 30, "b": 30},
                         title={"text": "Probability points each sequence adds (left out: minus this)",
                                "font": {"size": 13}},
                         xaxis={"title": "percentage points of P(methylated)", "zeroline": True})
    return figure
