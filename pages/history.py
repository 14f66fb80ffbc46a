"""History: the prediction log (no patient identifiers), with filters and CSV export; admins only under auth."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from core.errors import InputError, ServiceUnavailable
from core.service import get_service

st.title("History")
if not st.session_state.get("admin"):
    st.error("The prediction log is for administrators only (MGMT_ADMINS).")
    st.stop()
st.caption("Every prediction, successful or not, from the pages, the REST API and the command line: time, user, "
           "a salted hash of the study, probability, model revision, timings and status. No patient data.")

STATUS_LABELS = {"ok": "ok", "abstained": "abstained", "rejected": "rejected (input)",
                 "too_large": "too large", "timeout": "timed out", "disconnected": "client gone", "failed": "failed"}
try:
    store = get_service().store
    revisions = store.model_revisions()
    columns = st.columns(4)
    statuses = columns[0].multiselect("Status", list(STATUS_LABELS), default=list(STATUS_LABELS))
    user = columns[1].text_input("User (exact)", "")
    since = columns[2].date_input("Since", datetime.now(UTC).date() - timedelta(days=30))
    limit = columns[3].number_input("At most", min_value=10, max_value=100_000, value=1000, step=100)
    chosen = st.multiselect("Model revision", revisions, default=revisions) if len(revisions) > 1 else None
    filters = {"status": statuses, "user": user.strip().lower() or None, "model_revision": chosen,
               "since": datetime.combine(since, time.min, tzinfo=UTC)}
    log = store.predictions(int(limit), **filters)
    counts = store.prediction_counts(**filters)
except (InputError, ServiceUnavailable) as err:  # the database is busy or unusable: say so, keep the page up
    st.error(err.user_message, icon=":material/error:")
    st.stop()

summary = st.columns(1 + len(STATUS_LABELS))
summary[0].metric("Predictions", sum(counts.values()))
for column, (status, label) in zip(summary[1:], STATUS_LABELS.items(), strict=True):
    column.metric(label, counts[status])
if len(log) < sum(counts.values()):
    st.caption(f"The newest {len(log)} of {sum(counts.values())} matching rows are shown (raise 'At most').")
st.dataframe(log, hide_index=True, column_config={
    "probability": st.column_config.NumberColumn(format="%.3f"),
    "time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
})
st.download_button("Download as CSV", log.to_csv(index=False), "mgmt-predictions.csv", "text/csv",
                   icon=":material/download:")
