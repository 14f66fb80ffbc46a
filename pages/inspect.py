"""Inspect a study: upload it, see which series became which sequence, in which plane, with which geometry."""

from __future__ import annotations

import json
import logging

import pandas as pd
import streamlit as st

from core.errors import BUG, disposition, user_message
from core.inference.report import SequenceSource, sequence_table
from core.ingest import UploadedFile
from core.service import get_service

st.title("Inspect a study")
st.write(
    "Upload one study: a .zip of its folder, or its files (DICOM or four BraTS-named NIfTI files). "
    "Nothing is kept: the upload is deleted as soon as it has been read."
)
uploads = st.file_uploader("Study (.zip, DICOM files or NIfTI files)", accept_multiple_files=True)
if uploads:
    files = [UploadedFile(relative_path=u.name, content=u.getvalue()) for u in uploads]
    try:
        with st.spinner("Reading the series..."):
            study = get_service().inspect(files)
    except Exception as err:  # the upload's fault, the service's, or a bug: each says so, never a traceback
        if disposition(err) is BUG:
            logging.getLogger(__name__).exception("inspect failed")
        st.error(f"{disposition(err).page_heading}: {user_message(err)}")
        st.stop()
    st.dataframe(pd.DataFrame(sequence_table({name: SequenceSource.of(study[name]) for name in study.volumes})),
                 hide_index=True)
    for warning in study.warnings:
        st.warning(warning)
    with st.expander("RAS affines (voxel to world millimetres)"):
        for name, volume in study.volumes.items():
            st.write(name)
            st.table(pd.DataFrame(volume.affine.round(4)))
    st.download_button("Download the report (JSON)", json.dumps(study.summary(), indent=2), "study.json",
                       "application/json")
