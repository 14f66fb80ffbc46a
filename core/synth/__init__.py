"""Synthetic glioma cohort in the RSNA-MICCAI layout: MNI152 anatomy, a tumour whose traits carry the MGMT label
through a latent score of known separation, four acquisitions per case, DICOM or BraTS NIfTI.

Entry points: ``core.synth.cases.write_case`` (one case, for tests) and ``write_cohort`` (``python -m core synth``).
"""
