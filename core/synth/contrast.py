"""Tissue intensities per MRI sequence, in the relative order real scans show them, and their rendering."""

from __future__ import annotations

import numpy as np

from core import SEQUENCES
from core.regions import LABELS
from core.synth.anatomy import Anatomy

TISSUE_INTENSITY: dict[str, dict[str, float]] = {
    #            white  grey  csf   necrotic  oedema  enhancing  bone  scalp fat
    "FLAIR": dict(white=0.62, grey=0.80, csf=0.12, necrotic=0.55, oedema=1.35, enhancing=1.05, bone=0.05, scalp=0.95),
    "T1w": dict(white=1.00, grey=0.72, csf=0.25, necrotic=0.30, oedema=0.58, enhancing=0.70, bone=0.05, scalp=1.30),
    "T1wCE": dict(white=1.00, grey=0.74, csf=0.27, necrotic=0.32, oedema=0.60, enhancing=1.65, bone=0.05, scalp=1.30),
    "T2w": dict(white=0.55, grey=0.80, csf=1.60, necrotic=1.45, oedema=1.25, enhancing=0.95, bone=0.05, scalp=1.00),
}
"""Relative signal (tumour tissues by ``core.regions`` label key): FLAIR suppresses CSF and lights oedema; T1
shows white > grey > CSF and a dark necrotic core; gadolinium lights the enhancing tumour on T1wCE only; T2 shows
fluid (CSF, necrotic core, oedema) bright."""

SCANNER_SCALE = 900.0
"""Signal of white matter on T1w in scanner units, roughly what MR series store."""


def render_sequence(
    sequence: str, anatomy: Anatomy, labels: np.ndarray, layers: dict[str, np.ndarray] | None
) -> np.ndarray:
    """Noise-free image of one sequence on the anatomy's grid (partial volumes mixed by tissue fraction)."""
    values = TISSUE_INTENSITY[sequence]
    image = values["white"] * anatomy.white + values["grey"] * anatomy.grey + values["csf"] * anatomy.csf
    for label in LABELS:
        image = np.where(labels == label.value, values[label.key], image)
    if layers:
        image = np.where(layers["csf_shell"], values["csf"], image)
        image = np.where(layers["bone"], values["bone"], image)
        image = np.where(layers["scalp"], values["scalp"], image)
    return (SCANNER_SCALE * image).astype(np.float32)


def render_all(anatomy: Anatomy, labels: np.ndarray, layers: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
    """The four sequences, noise-free, on the reference grid."""
    return {sequence: render_sequence(sequence, anatomy, labels, layers) for sequence in SEQUENCES}
