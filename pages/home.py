"""Home: what the tool does, the research-use notice, the model in use, what is stored, and where to go next."""

from __future__ import annotations

import streamlit as st

from core.errors import user_message
from core.notice import PUBLISHED_CONTEXT, RESEARCH_NOTICE, STORAGE_NOTICE
from core.service import get_service

st.title("MGMT promoter methylation from brain MRI")
st.write(
    "This open-source demo reads one brain MRI study of a glioma patient (FLAIR, T1w, T1wCE and T2w; DICOM or "
    "NIfTI) and estimates the probability that the tumour's MGMT promoter is methylated, a trait linked to a "
    "better response to temozolomide. It shows how sure the model is, where in the image it looked (Grad-CAM), "
    "and how the case sits against a cohort. Everything runs on this server's CPU in a few seconds."
)
st.warning(RESEARCH_NOTICE, icon=":material/warning:")
st.caption(PUBLISHED_CONTEXT)

st.subheader("The model in use")
service = get_service()
with st.spinner("Loading the model..."):
    try:
        predictor = service.predictor()
    except Exception as err:  # the model cannot load (or a bug): say it, keep the page usable
        predictor = None
        st.error(user_message(err))
if predictor is not None:
    columns = st.columns(3)
    columns[0].metric("Model", predictor.source.repo)
    columns[1].metric("Revision", predictor.source.revision[:12])
    if predictor.config.metrics is not None:
        metrics, folds = predictor.config.metrics.metrics, predictor.config.metrics.cv_folds
        low, high = metrics.auc_ci95
        columns[2].metric(f"Cross-validated AUC ({folds or '?'}-fold)", f"{metrics.auc:.3f}",
                          help=f"95% bootstrap interval {low:.3f} to {high:.3f}, n = {metrics.n}")
        st.caption(f"Cross-validated AUC {metrics.auc:.3f} (95% CI {low:.3f}-{high:.3f}) on **synthetic** "
                   "data: it measures how well the network recovers the generator's planted signal, nothing "
                   "about real tumours.")

st.subheader("What is stored")
st.info(STORAGE_NOTICE, icon=":material/lock:")

st.subheader("Where to go")
LINKS = {
    "pages/predict.py": ("Predict: try an example or upload a study", ":material/psychology:"),
    "pages/cohort.py": ("Cohort: how the model does on a whole cohort", ":material/groups:"),
    "pages/model.py": ("Model: its card, configuration and metrics", ":material/description:"),
    "pages/history.py": ("History: the prediction log", ":material/history:"),
    "pages/inspect.py": ("Inspect a study: what was read, in which plane, with which geometry", ":material/search:"),
}
open_pages = st.session_state.get("pages", list(LINKS))
for path, (label, icon) in LINKS.items():
    if path in open_pages:
        st.page_link(path, label=label, icon=icon)
if "pages/predict.py" not in open_pages:
    st.info("Sign in (sidebar) to predict, see the cohort and inspect studies.", icon=":material/login:")
