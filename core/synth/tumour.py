"""A glioblastoma-like tumour: necrotic core, enhancing tumour around it and oedema, whose traits follow a latent score.

The MGMT label is drawn first; a latent score ~ N(+-d/2, 1) (sign by label) then sets the necrotic
fraction of the core and the extent of oedema. Size, location and acquisition are drawn independently of
the label, so the best any classifier can do from the images is the AUC of the latent score: Phi(d/sqrt 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from core.regions import ENHANCING, NECROTIC, OEDEMA
from core.synth.anatomy import Anatomy, smooth_field
from core.synth.latent import DEFAULT_SEPARATION, best_achievable_auc  # noqa: F401 (re-exported)

METHYLATED_FRACTION = 0.52
"""About 52% of the RSNA-MICCAI training cases are MGMT methylated."""

@dataclass(frozen=True)
class TumourTraits:
    """What a case's tumour looks like; only the last two depend on the label (through the score)."""

    label: int
    score: float
    centre_mm: tuple[float, float, float]
    radius_mm: float
    necrotic_fraction: float
    oedema_extent: float


def draw_latent(rng: np.random.Generator, separation: float) -> tuple[int, float]:
    """The MGMT label (methylated with probability 0.52), then the latent score ~ N(+-separation/2, 1)."""
    label = int(rng.random() < METHYLATED_FRACTION)
    return label, float(rng.normal(separation / 2 if label else -separation / 2, 1.0))


def visible_traits(score: float) -> tuple[float, float]:
    """Necrotic fraction of the core (rises with the score) and oedema extent (falls with it)."""
    squash = 1.0 / (1.0 + np.exp(-score))  # (0, 1), increasing in the score
    return float(0.3 + 0.5 * squash), float(1.3 + 1.0 * (1.0 - squash))


def draw_traits(rng: np.random.Generator, anatomy: Anatomy, separation: float) -> TumourTraits:
    """Draw the label, then the latent score, then the tumour; the score sets the necrotic core and oedema."""
    label, score = draw_latent(rng, separation)
    necrotic_fraction, oedema_extent = visible_traits(score)
    deep_white = ndimage.binary_erosion(anatomy.white > 0.6, iterations=max(1, int(8 / anatomy.spacing)))
    candidates = np.argwhere(deep_white)
    centre_voxel = candidates[rng.integers(len(candidates))]
    centre = anatomy.affine[:3, :3] @ centre_voxel + anatomy.affine[:3, 3]
    return TumourTraits(
        label=label,
        score=score,
        centre_mm=tuple(float(v) for v in centre),
        radius_mm=float(rng.uniform(12.0, 24.0)),
        necrotic_fraction=necrotic_fraction,
        oedema_extent=oedema_extent,
    )


def tumour_labels(rng: np.random.Generator, anatomy: Anatomy, traits: TumourTraits) -> np.ndarray:
    """BraTS label map (``core.regions.LABELS``) on the anatomy's grid, inside the brain."""
    shape = anatomy.shape
    world_to_voxel = np.linalg.inv(anatomy.affine)
    centre = world_to_voxel[:3, :3] @ np.asarray(traits.centre_mm) + world_to_voxel[:3, 3]
    stretch = rng.uniform(0.8, 1.25, 3)
    offsets = (np.indices(shape, dtype=np.float32) - centre.reshape(3, 1, 1, 1)) * anatomy.spacing
    distance = np.sqrt(sum((offsets[a] / stretch[a]) ** 2 for a in range(3)))
    wobble = 1.0 + smooth_field(rng, shape, 0.3, coarse=8)  # an irregular, lobulated outline
    relative = distance / (traits.radius_mm * wobble)
    labels = np.zeros(shape, np.uint8)
    oedema_reach = traits.oedema_extent + smooth_field(rng, shape, 0.6, coarse=9)
    along_white = (anatomy.white > 0.35) | (relative <= 1.25)  # oedema spreads along white-matter tracts
    labels[(relative <= oedema_reach) & along_white & (anatomy.white + anatomy.grey > 0.3)] = OEDEMA
    labels[relative <= 1.0] = ENHANCING
    labels[relative <= traits.necrotic_fraction] = NECROTIC
    labels[~anatomy.brain] = 0
    return labels
