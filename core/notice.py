"""What every page, report and API answer says about the limits of this tool (research use only)."""

from __future__ import annotations

BEST_COMPETITION_AUC = 0.62174
"""Best private-leaderboard AUC of the RSNA-MICCAI 2021 Brain Tumor Radiogenomic Classification competition."""
EXTERNAL_COHORT_AUC = 0.562
"""AUC of that winning model on an external hospital cohort (Kim et al., Cancers 2022)."""
RESEARCH_NOTICE = (
    "Research use only. Not a medical device; never use it for diagnosis or treatment decisions. "
    f"Predicting MGMT status from MRI is close to chance in the literature (best competition AUC "
    f"{BEST_COMPETITION_AUC:.2f})."
)
PUBLISHED_CONTEXT = (
    "On real data, MRI-based MGMT prediction is close to chance: the best private-leaderboard AUC of the "
    f"RSNA-MICCAI 2021 Brain Tumor Radiogenomic Classification competition was {BEST_COMPETITION_AUC} (a MONAI "
    f"resnet10 on T1wCE), and that winning model reached an AUC of {EXTERNAL_COHORT_AUC} on an external hospital "
    "cohort (Kim et al., Cancers 2022)."
)
STORED = (
    "The prediction log keeps, per attempt: the time, where it came from (page, API or command line), the "
    "signed-in user's e-mail (an administrator needs it to answer 'who ran this'; nothing else of the sign-in "
    "identity) or 'anonymous', a salted one-way hash of the study, the probability with its label and "
    "interval, the model with its revision and preprocessing version, timings, the status and, for an attempt that "
    "failed, its error message with file names removed; never a patient name, identifier, birth date, accession "
    "number or image."
)
UPLOADS = "Uploads are deleted as soon as each request is done, whether the prediction succeeded or not."
RETENTION = "Log rows are kept until an administrator purges them (python -m core purge --days N)."
STORAGE_NOTICE = f"{UPLOADS} {STORED} {RETENTION}"
"""What is stored and for how long, as the Home page says it."""
STORAGE = {"stored": STORED, "uploads": UPLOADS, "retention": RETENTION}
"""The same statement, part by part, as the API health answer gives it."""
