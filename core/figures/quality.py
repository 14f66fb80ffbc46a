"""The quality panel's lines (coloured by status) and the per-sequence contributions chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from core.quality.result import QualityCheck

STATUS_COLOURS = {"pass": "green", "warn": "orange", "fail": "red"}
"""Streamlit markdown colours of each status."""


def quality_lines(checks: Sequence[QualityCheck]) -> list[str]:
    """One markdown line per check: its status in colour, what and where, the sentence."""
    lines = []
    for check in checks:
        where = f" ({check.sequence})" if check.sequence else ""
        lines.append(f":{STATUS_COLOURS[check.status]}[**{check.status}**] {check.check}{where}: {check.detail}")
    return lines


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
