"""History: the prediction log (no patient identifiers), with filters and CSV export; admins only under auth."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from core.errors import InputError, ServiceUnavailable
from core.service import get_service
from core.store import STATUSES

st.title("History")
if not st.session_state.get("admin"):
    st.error("The prediction log is for administrators only (MGMT_ADMINS).")
    st.stop()
st.caption("Every prediction, successful or not, from the pages, the REST API and the command line: time, user, "
           "a salted hash of the study, probability, model revision, timings and status. No patient data.")

columns = st.columns(4)
statuses = columns[0].multiselect("Status", list(STATUSES), default=list(STATUSES))
user = columns[1].text_input("User (exact)", "")
since = columns[2].date_input("Since", datetime.now(UTC).date() - timedelta(days=30))
limit = columns[3].number_input("At most", min_value=10, max_value=100_000, value=1000, step=100)

try:
    log = get_service().store.predictions(int(limit), user=user.strip().lower() or None,
                                      since=datetime.combine(since, time.min, tzinfo=UTC))
except (InputError, ServiceUnavailable) as err:  # the database is busy or unusable: say so, keep the page up
    st.error(err.user_message, icon=":material/error:")
    st.stop()
log = log[log["status"].isin(statuses)]
revisions = sorted(log["model_revision"].dropna().unique())
if len(revisions) > 1:
    chosen = st.multiselect("Model revision", revisions, default=revisions)
    log = log[log["model_revision"].isin(chosen)]

counts = log["status"].value_counts()
summary = st.columns(4)
summary[0].metric("Predictions", len(log))
summary[1].metric("ok", int(counts.get("ok", 0)))
summary[2].metric("rejected (input)", int(counts.get("rejected", 0)))
summary[3].metric("failed", int(counts.get("failed", 0)))
st.dataframe(log, hide_index=True, column_config={
    "probability": st.column_config.NumberColumn(format="%.3f"),
    "time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
})
st.download_button("Download as CSV", log.to_csv(index=False), "mgmt-predictions.csv", "text/csv",
                   icon=":material/download:")
