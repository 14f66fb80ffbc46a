"""Predict: one study in (an example, a .zip, a folder or files), the probability, the slices and the explanation
map out."""

from __future__ import annotations

import json
import logging
from functools import partial

import pandas as pd
import streamlit as st

from core.errors import BUG, disposition, user_message
from core.examples import EXAMPLES, example_study, example_zip
from core.figures import gauge_figure
from core.figures.quality import contributions_figure
from core.figures.viewer import cursor_caption, label_legend, linked_figure, moved_cursor
from core.inference.report import sequence_table
from core.ingest import UploadedFile
from core.notice import RESEARCH_NOTICE
from core.preprocess.display import DisplayVolumes
from core.regions import MEASURED
from core.report import ReportRequest
from core.report.wording import call_sentence, is_call, quality_issues, quality_line
from core.service import STAGES, Outcome, get_service

SOURCES = ("Example study", "Upload a .zip", "Upload a folder", "Upload files")
CURSOR_KEYS = ("cursor-x", "cursor-y", "cursor-z")
CURSOR_PLANES = ("Sagittal plane (x)", "Coronal plane (y)", "Axial plane (z)")

st.title("Predict MGMT promoter methylation")
st.warning(RESEARCH_NOTICE, icon=":material/warning:")

# Input: an example or an upload. Changing the uploader's key after a run drops the upload from memory.
st.session_state.setdefault("upload_round", 0)
kind = st.radio("Study", SOURCES, horizontal=True, key="source_kind")
uploader_key = f"upload-{kind}-{st.session_state['upload_round']}"
source = None
if kind == "Example study":
    key = st.selectbox("Example", list(EXAMPLES), format_func=lambda k: EXAMPLES[k].title)
    st.caption(f"Generated on first use by the synthetic-cohort generator (a few seconds); its planted label is "
               f"**{EXAMPLES[key].truth}**. DICOM series in their own planes, with fake patient names in the headers.")
    source = ("example", key)
elif kind == "Upload a .zip":
    upload = st.file_uploader("A .zip of one study folder (DICOM series, or four NIfTI files)", type=["zip"],
                              key=uploader_key)
    source = ("files", [upload]) if upload else None
elif kind == "Upload a folder":
    uploads = st.file_uploader("The study folder (its sub-folders are read too)", accept_multiple_files="directory",
                               key=uploader_key)
    source = ("files", uploads) if uploads else None
else:
    uploads = st.file_uploader("The study's files: DICOM slices, or four BraTS-named NIfTI files",
                               accept_multiple_files=True, key=uploader_key)
    source = ("files", uploads) if uploads else None
st.caption("Nothing you upload is kept: it is deleted as soon as the prediction is done. The log keeps the "
           "probability, timings and a salted hash of the study, never a name or an identifier.")

with_identity = st.checkbox("Include patient identity in the PDF report", value=False, key="report_identity",
                            help="Name, ID, birth date and sex from the uploaded study's headers, printed in the PDF "
                                 "for you; never stored. The DICOM SR always carries them (a PACS files it by them).")
if st.button("Predict", type="primary", disabled=source is None, key="predict"):
    bar = st.progress(0.0, text="starting")
    problem, busy = None, False
    with st.status("Predicting...", expanded=True) as status:
        def progress(stage: str) -> None:
            done = STAGES.index(stage) if stage in STAGES else 0
            bar.progress(done / len(STAGES), text=stage)
            status.write(f"{stage}...")

        try:
            if source[0] == "example":
                progress("staging")
                status.write("writing the example study (first use only)...")
                target = example_study(source[1])
            else:
                target = [UploadedFile(relative_path=f.name, content=f.getvalue()) for f in source[1]]
            outcome = get_service().predict(target, user=st.session_state.get("user", "anonymous"),
                                            channel="app", progress=progress, with_display=True,
                                            reports=ReportRequest(include_identity=with_identity))
        except Exception as err:  # answered as core.errors.DISPOSITIONS says; a bug is logged, never shown raw
            answer = disposition(err)
            if answer is BUG:
                logging.getLogger(__name__).exception("prediction failed")
            busy = answer.retry_same_input  # not the visitor's doing: the study stays chosen
            problem = (answer.page_heading, user_message(err) + (" Your study is still selected: press Predict to "
                                                                 "try again." if busy else ""))
        else:
            bar.progress(1.0, text="done")
            status.update(label=f"Done in {outcome.prediction.result.timings['total']:.1f} s", state="complete",
                          expanded=False)
            st.session_state["outcome"] = outcome
            if not outcome.prediction.result.abstained:  # the Cohort page marks calls, not abstentions
                st.session_state.setdefault("session_probabilities", []).append(outcome.prediction.result.probability)
        finally:
            if not busy:
                st.session_state["upload_round"] += 1  # a fresh uploader: the uploaded bytes are released
        if problem:
            status.update(label=problem[0], state="error", expanded=False)
    st.session_state["problem"] = problem[1] if problem else None
    st.session_state["busy"] = busy
    if problem:
        st.session_state.pop("outcome", None)
    st.rerun()  # with a fresh, empty uploader: the upload leaves the server's memory now

if st.session_state.get("problem") and st.session_state.get("busy"):
    st.warning(st.session_state["problem"], icon=":material/hourglass_top:")
elif st.session_state.get("problem"):
    st.error(st.session_state["problem"], icon=":material/error:")


def cursor_now() -> tuple[int, int, int]:
    return tuple(int(st.session_state[key]) for key in CURSOR_KEYS)


def move_cursor(display: DisplayVolumes) -> None:
    """A click on the viewer: the other two planes go through the clicked point (the sliders follow)."""
    points = st.session_state["viewer"]["selection"]["points"]
    if points:
        moved = moved_cursor(display, cursor_now(), points[0]["curve_number"], points[0]["x"], points[0]["y"])
        for key, value in zip(CURSOR_KEYS, moved or (), strict=False):
            st.session_state[key] = value


def cursor_to_start(display: DisplayVolumes) -> None:
    for key, value in zip(CURSOR_KEYS, display.voxel_of(display.start_mm), strict=True):
        st.session_state[key] = value


@st.fragment
def viewer(outcome: Outcome) -> None:
    """The four sequences at the study's own resolution in three planes through one cursor, with the overlays."""
    display = outcome.prediction.artefacts.viewer
    if st.session_state.get("cursor-of") is not outcome:  # a new prediction: the cursor starts at its centre
        st.session_state["cursor-of"] = outcome
        cursor_to_start(display)
    cam_toggle, cam_fade, label_toggle, label_fade = st.columns(4)
    show_cam = cam_toggle.toggle("Explanation overlay", value=display.cam is not None, disabled=display.cam is None)
    cam_opacity = cam_fade.slider("Explanation opacity", 0.0, 1.0, 0.45, 0.05, disabled=not show_cam)
    show_labels = label_toggle.toggle("Tumour segmentation", value=display.labels is not None,
                                      disabled=display.labels is None,
                                      help=None if display.labels is not None else "This model gives no segmentation.")
    label_opacity = label_fade.slider("Segmentation opacity", 0.0, 1.0, 0.4, 0.05, disabled=not show_labels)
    for column, key, label, axis in zip(st.columns(3), CURSOR_KEYS, CURSOR_PLANES, range(3), strict=True):
        origin, step = display.grid.affine[axis, 3], display.spacing_mm
        column.select_slider(label, options=range(display.grid.shape[axis]), key=key,
                             format_func=lambda index, o=origin, s=step: f"{o + s * index:+.0f} mm")
    caption, back = st.columns([5, 1], vertical_alignment="center")
    back.button("Recentre", on_click=cursor_to_start, args=(display,), key="cursor-back",
                icon=":material/my_location:", help=f"Back to the {display.start_from}")
    caption.caption(f"Cursor at {cursor_caption(display, cursor_now())} (RAS), started at the {display.start_from}. "
                    "Click a point in any image to bring the other planes there. Radiological view: the patient's "
                    "right on your left." + (f"  \nSegmentation: {label_legend()}." if show_labels else ""))
    st.plotly_chart(linked_figure(display, cursor_now(), cam_opacity if show_cam else None,
                                  label_opacity if show_labels else None),
                    key="viewer", on_select=partial(move_cursor, display), selection_mode="points",
                    config={"displayModeBar": False})


outcome: Outcome | None = st.session_state.get("outcome")
if outcome is not None:
    result = outcome.prediction.result
    st.divider()
    show_answer = True
    if result.abstained:
        st.error(call_sentence(result), icon=":material/block:")
        show_answer = st.toggle("Show the probability anyway (greyed: it is not a call)", key="show-anyway")
    elif is_call(result):
        st.success(call_sentence(result), icon=":material/check_circle:")
    else:
        st.warning(call_sentence(result), icon=":material/help:")
    gauge_column, facts_column = st.columns([1, 1])
    with gauge_column:
        if show_answer:
            decision = result.decision
            st.plotly_chart(gauge_figure(result.probability, result.uncertainty.interval90,
                                         result.threshold, result.label, greyed=result.abstained,
                                         no_call=(decision["calls_below"], decision["calls_above"]) if decision
                                         else None,
                                         interval_name="fold models" if result.uncertainty.members
                                         else "90% interval"),
                            key="gauge")
    with facts_column:
        low, high = result.uncertainty.interval90
        if show_answer:
            st.metric("P(methylated)", f"{result.probability:.3f}", help="The probability that the tumour's "
                      "MGMT promoter is methylated, according to the model in use (the Model page says what it was "
                      "trained on; the bundled one saw synthetic data only).")
        provenance = result.provenance
        interval = f"{low:.3f} to {high:.3f}" if show_answer else "hidden"
        rule = f"**Decision rule:** {result.decision['guarantee']}  \n" if result.decision else ""
        st.markdown(f"**Label:** {result.label} (threshold {result.threshold:.2f})  \n"
                    f"**Interval:** {interval} ({result.uncertainty.method})  \n" + rule +
                    f"**Model:** `{provenance.repo}` @ `{provenance.revision}`, preprocessing "
                    f"v{provenance.preprocessing_version}  \n"
                    "**Time:** " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings))
        st.caption(RESEARCH_NOTICE)
    for warning in result.warnings:
        st.warning(warning, icon=":material/info:")
    quality_column, contributions_column = st.columns([3, 2])
    with quality_column:
        st.subheader("Quality checks")
        st.markdown(quality_line(result.quality))
        for line in quality_issues(result.quality):
            st.markdown(f"- {line}")
        if result.ood is not None:
            ood = result.ood
            st.caption(f"Out-of-distribution score {ood.score:.1f} (threshold {ood.threshold:.1f})")
        if result.missing:
            st.caption("Missing sequences: " + ", ".join(result.missing))
    with contributions_column:
        if result.contributions and show_answer:
            st.plotly_chart(contributions_figure(result.contributions), key="contributions")
    st.subheader("Which series became which sequence")
    st.dataframe(pd.DataFrame(sequence_table(result.sequences)), hide_index=True)
    st.subheader("Where the model looked")
    prepared, display = outcome.prediction.artefacts.prepared, outcome.prediction.artefacts.viewer
    model_grid = " x ".join(map(str, prepared.grid.shape))
    st.caption(f"The four sequences on one {display.spacing_mm:.2g} mm grid aligned in world coordinates (the "
               "study's own in-plane resolution, never finer than 1 mm). The explanation map was computed on the "
               f"model's {model_grid} grid of {prepared.grid.affine[0, 0]:.2g} mm and is drawn upsampled: each "
               "voxel's share of the methylation logit through the tumour sub-region volumes the model reads (either "
               "direction), so it lies where the model found tumour; shown inside the brain. Skull: "
               f"{prepared.skull.action} ({prepared.skull.reason}). It shows what the logit was computed from, not "
               "why that tumour is or is not methylated.")
    tumour = result.tumour
    if tumour is not None and tumour.found:
        columns = st.columns(len(MEASURED))
        for column, region in zip(columns, MEASURED, strict=True):
            column.metric(region.name.capitalize(), f"{tumour.volumes_ml[region.key]:.1f} ml",
                          help=f"Volume of the model's segmentation of the {region.name} (BraTS labels "
                               f"{', '.join(map(str, region.values))}; a measurement, not a diagnosis).")
        x, y, z = tumour.centre_mm
        st.caption(f"Whole-tumour centre at x {x:+.0f}, y {y:+.0f}, z {z:+.0f} mm (RAS), where the viewer starts; "
                   "the outline is the segmentation overlay below.")
    viewer(outcome)
    st.download_button("Download the result (JSON)", json.dumps(outcome.report, indent=2), "mgmt-result.json",
                       "application/json", icon=":material/download:")
    # the reports were made with the prediction and are held in this session's memory only
    documents = outcome.documents
    if documents is not None:
        labels = {"pdf": "Download the PDF report", "sr": "Download the DICOM SR (for a PACS)",
                  "seg": "Download the tumour segmentation (DICOM SEG for a PACS; NIfTI for a NIfTI study)"}
        for document in documents.made.values():
            st.download_button(labels[document.kind], document.data, document.file_name, document.media_type,
                               icon=":material/download:", key=f"report-{document.kind}")
        for message in documents.refused.values():
            st.info(message, icon=":material/info:")

if kind == "Example study":
    st.download_button("Download this example as a .zip (to try the upload path)", data=lambda: example_zip(key),
                       file_name=f"{key}.zip", mime="application/zip", key="example-zip")
