"""Cohort: how the model in use does on a whole cohort (its training out-of-fold predictions, or a scored batch)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.cohort_summary import summarise_cohort
from core.errors import ServiceUnavailable
from core.figures import calibration_figure, confusion_figure, probability_histogram, roc_figure
from core.metrics import Confusion
from core.notice import BEST_COMPETITION_AUC
from core.service import get_service
from core.store import TRAINING_COHORT
from core.store.cohort_tables import training_calibration

st.title("Cohort")
st.write("Statistics of the model in use over a labelled cohort, from the store (DuckDB, or PostgreSQL for several "
         "replicas): the out-of-fold predictions written by training (each case scored by a model that never saw "
         "it), and any cohort scored with `python -m core batch DATA_DIR --labels CSV`.")

service = get_service()
with st.spinner("Loading the model..."):
    try:
        predictor = service.predictor()
    except ServiceUnavailable as err:  # the model cannot load: the service's problem, said plainly
        st.error(err.user_message, icon=":material/error:")
        st.stop()
repo, revision = predictor.source.repo, predictor.source.revision
try:
    names = service.store.cohorts(repo, revision)
except ServiceUnavailable as err:  # the database is busy or unusable: say so, keep the page up
    st.error(err.user_message, icon=":material/error:")
    st.stop()
if not names:
    st.info(f"No cohort is stored for `{repo}` @ `{revision}`. Score one with "
            "`python -m core batch DATA_DIR --labels CSV`.")
    st.stop()
name = st.selectbox("Cohort", names)
try:
    cases = service.store.cohort(name, repo, revision)
except ServiceUnavailable as err:
    st.error(err.user_message, icon=":material/error:")
    st.stop()
summary = summarise_cohort(cases, threshold=float(predictor.config.threshold))

columns = st.columns(4)
columns[0].metric("Cases", summary.n)
columns[1].metric("Labelled", summary.n_labelled)
columns[2].metric("Methylated", f"{summary.n_methylated} ({100 * summary.methylated_fraction:.0f}%)"
                  if summary.n_labelled else "-")
if summary.metrics is not None:
    low, high = summary.metrics.auc_ci95
    columns[3].metric("ROC AUC", f"{summary.metrics.auc:.3f}", help=f"95% bootstrap interval {low:.3f}-{high:.3f}")
    st.caption(f"AUC {summary.metrics.auc:.3f} (95% CI {low:.3f}-{high:.3f}) over {summary.metrics.n} labelled "
               f"cases. For scale: the best real-data result of the RSNA-MICCAI competition was "
               f"{BEST_COMPETITION_AUC}.")

mine = st.session_state.get("session_probabilities", [])
st.plotly_chart(probability_histogram(summary.probabilities, summary.labels, float(predictor.config.threshold),
                                      marks=mine, title="Predicted probabilities by true label"), key="histogram")
if mine:
    st.caption(f"Orange lines: the {len(mine)} prediction(s) of this session.")
if summary.metrics is None:
    st.info("This cohort has no labels (or one class only): no ROC, calibration or confusion matrix.")
    st.stop()

left, right = st.columns(2)
left.plotly_chart(roc_figure(summary.roc, summary.metrics, title=f"ROC: {name}"), key="roc")
curve, note = (training_calibration(predictor.source.folder) if name == TRAINING_COHORT
               else (summary.calibration, ""))
right.plotly_chart(calibration_figure(curve or summary.calibration, title=f"Calibration: {name}"), key="calibration")
if note:
    right.caption("Probabilities " + note + ".")
threshold = st.slider("Decision threshold", 0.0, 1.0, float(predictor.config.threshold), 0.01)
confusion = Confusion.at(summary.labels, summary.probabilities, threshold)
st.plotly_chart(confusion_figure(confusion, threshold), key="confusion")
st.caption(f"At {threshold:.2f}: sensitivity {confusion.sensitivity:.2f}, specificity {confusion.specificity:.2f}, "
           "accuracy "
           f"{np.mean((summary.probabilities >= threshold) == summary.labels.astype(bool)):.2f}.")
