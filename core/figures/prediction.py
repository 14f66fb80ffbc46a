"""The probability gauge: the estimate, its interval as a band, the decision threshold, and the decision rule's
no-call zone."""

from __future__ import annotations

import plotly.graph_objects as go

UNMETHYLATED_COLOUR = "#4c78a8"
METHYLATED_COLOUR = "#e45756"
BAND_COLOUR = "rgba(120, 120, 120, 0.35)"
NO_CALL_COLOUR = "rgba(250, 200, 80, 0.25)"
GREYED_COLOUR = "#b0b0b0"


def gauge_figure(probability: float, interval90: tuple[float, float], threshold: float, label: str,
                 greyed: bool = False, no_call: tuple[float, float] | None = None,
                 interval_name: str = "90% interval") -> go.Figure:
    """A half-circle gauge of P(methylated) in percent; the grey band is the interval (``interval_name``), the line
    the threshold, the pale yellow zone ``no_call`` the probabilities the decision rule makes no call at.
    ``greyed``: the tool abstained, the number is shown on request only and drawn in grey."""
    low, high = interval90
    steps = [{"range": [100 * low, 100 * high], "color": BAND_COLOUR}]
    rule = ""
    if no_call is not None:
        steps.insert(0, {"range": [100 * no_call[0], 100 * no_call[1]], "color": NO_CALL_COLOUR})
        rule = f"; no call {100 * no_call[0]:.0f}-{100 * no_call[1]:.0f} %"
    colour = METHYLATED_COLOUR if probability >= threshold else UNMETHYLATED_COLOUR
    colour = GREYED_COLOUR if greyed else colour
    figure = go.Figure(go.Indicator(
        mode="gauge+number",
        value=round(100 * probability, 1),
        number={"suffix": " %", "valueformat": ".1f"},
        title={"text": f"P(methylated): <b>{label}</b><br><span style='font-size:0.8em'>"
                       f"{interval_name} {100 * low:.1f}-{100 * high:.1f} %, threshold {100 * threshold:.0f} %"
                       f"{rule}</span>"},
        gauge={
            "axis": {"range": [0, 100], "ticksuffix": " %"},
            "bar": {"color": colour, "thickness": 0.3},
            "steps": steps,
            "threshold": {"line": {"color": "black", "width": 3}, "thickness": 0.9, "value": 100 * threshold},
        },
    ))
    figure.update_layout(height=300, margin={"l": 30, "r": 30, "t": 90, "b": 10})
    return figure
