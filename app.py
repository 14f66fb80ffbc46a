"""Streamlit entry point: navigation and the shared page chrome. Pages lay out; core/ computes."""

from __future__ import annotations

import streamlit as st

RESEARCH_NOTICE = (
    "Research use only. Not a medical device; never use it for diagnosis or treatment decisions. "
    "Predicting MGMT status from MRI is close to chance in the literature (best competition AUC 0.62)."
)


def home() -> None:
    st.title("MGMT promoter methylation from brain MRI")
    st.write(
        "This open-source demo reads one brain MRI study of a glioma patient (FLAIR, T1w, T1wCE and T2w; "
        "DICOM or NIfTI) and estimates whether the tumour's MGMT promoter is methylated, a trait linked to "
        "better response to temozolomide. It shows how sure it is, where it looked, and how the case sits "
        "against a cohort."
    )
    st.warning(RESEARCH_NOTICE)
    st.page_link(inspect_page, label="Inspect a study: what was read, in which plane, with which geometry")


st.set_page_config(page_title="MGMT radiogenomics (research demo)", layout="wide")
home_page = st.Page(home, title="Home", default=True)
inspect_page = st.Page("pages/inspect.py", title="Inspect a study")
navigation = st.navigation([home_page, inspect_page])
st.sidebar.caption(RESEARCH_NOTICE)
navigation.run()
