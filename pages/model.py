"""Model: the card of the model in use, its configuration and metrics, and the published context for real data."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.errors import ServiceUnavailable
from core.figures.decision import error_reject_figure
from core.inference.decision import DecisionRule
from core.model.card import demoted, read_card, read_evaluation_figures, without_comments
from core.model.publish import tree_url
from core.notice import BEST_COMPETITION_AUC, EXTERNAL_COHORT_AUC, PUBLISHED_CONTEXT
from core.service import get_service

st.title("Model")
service = get_service()
with st.spinner("Loading the model..."):
    try:
        predictor = service.predictor()
    except ServiceUnavailable as err:  # the model cannot load: the service's problem, said plainly
        st.error(err.user_message, icon=":material/error:")
        st.stop()
source, config = predictor.source, predictor.config
if source.from_hub:
    st.write(f"In use: Hub repo `{source.repo}` at revision `{source.revision}`: "
             f"[browse it on the Hub]({tree_url(source.repo, source.revision)}).")
else:
    st.write(f"In use: `{source.repo}` (a local folder, revision `local`).")

st.subheader("Published context for real data")
columns = st.columns(2)
columns[0].metric("Best RSNA-MICCAI 2021 competition AUC", f"{BEST_COMPETITION_AUC}")
columns[1].metric("Winner on an external cohort", f"{EXTERNAL_COHORT_AUC}")
st.caption(PUBLISHED_CONTEXT)

if config.metrics is not None:
    st.subheader("Cross-validated metrics (from config.json)")
    metrics = config.metrics.metrics
    low, high = metrics.auc_ci95
    rows = [("ROC AUC", f"{metrics.auc:.3f} (95% CI {low:.3f}-{high:.3f})"), ("cases", metrics.n),
            ("folds", config.metrics.cv_folds or ""),
            (f"accuracy at {metrics.threshold}", f"{metrics.accuracy:.3f}"),
            ("precision", f"{metrics.precision:.3f}"), ("recall", f"{metrics.recall:.3f}"),
            ("F1", f"{metrics.f1:.3f}"), ("Brier score", f"{metrics.brier:.3f}")]
    st.dataframe(pd.DataFrame(rows, columns=["metric", "value"]).astype(str), hide_index=True)

st.subheader("When the model makes a call")
rule = predictor.decision_rule
if rule is None:
    st.warning("This model folder has no decision rule (decision.json): no prediction gets a call with a stated "
               "guarantee.", icon=":material/warning:")
else:
    low, high = rule.call_region
    st.write(f"**Rule:** {rule.to_json()['rule']}, fitted on {rule.n} cases ({rule.fitted_on}); target error "
             f"{rule.target_error:g}. It calls unmethylated at P ≤ {low:.2f} and methylated at P ≥ {high:.2f}; "
             "in between the label is *indeterminate*.")
    st.info(f"**Guarantee:** {rule.guarantee}", icon=":material/verified:")
    curves = {"training (out-of-fold)": DecisionRule.stored_curve(source.folder)}
    evaluations = read_evaluation_figures(source.folder)
    for section, figures in evaluations.items():
        if figures.get("decision"):
            curves[f"{section} ({figures['n']} cases)"] = figures["decision"]["error_reject"]
    st.plotly_chart(error_reject_figure({k: v for k, v in curves.items() if v}, rule.target_error),
                    key="error-reject")
    for section, figures in evaluations.items():
        if figures.get("call_rate") is not None and figures.get("accuracy_among_calls") is not None:
            st.caption(f"{section}: {figures['calls']} of {figures['n']} studies called "
                       f"({figures['call_rate']:.0%}), {figures['accuracy_among_calls']:.0%} of the calls right. "
                       f"Reproduce: `{figures['command']}`")

st.subheader("Model card")
card = read_card(source.folder)
if card.metadata:
    with st.expander("Card metadata (Hugging Face front matter)"):
        st.code(card.metadata, language="yaml")
st.markdown(demoted(without_comments(card.body)) or "This model folder has no README.md card.")

st.subheader("Configuration")
st.json({"architecture": config.architecture, "threshold": config.threshold, "labels": list(config.labels),
         "preprocessing": config.preprocessing.to_json(), "training": dict(config.training)}, expanded=False)
