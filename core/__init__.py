"""MGMT radiogenomics: the UI-free core (ingest, preprocess, model, inference, store, synth, train)."""

SEQUENCES: tuple[str, ...] = ("FLAIR", "T1w", "T1wCE", "T2w")
"""The four MRI sequences, always in this order (the RSNA-MICCAI names)."""
