"""Where the methylation logit comes from: each voxel's first-order share of the logit through the soft tumour
sub-region volumes the head reads (gradient of the logit with respect to each soft segmentation channel, times
that channel's probability at the voxel; summed over channels and averaged over the fold models).

The head sees the image only through sums of the softmax segmentation (``tumour_statistics``), so the gradient of
the logit with respect to a channel is the same at every voxel, and the map is that channel's probability
weighted by how much its volume moves the logit: Grad-CAM on the segmentation output. It lies where the model
finds tumour, and a network with randomised weights finds tumour elsewhere (see ``cam_sanity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from core.model.network import FoldMember, tumour_statistics


def member_contribution(member: FoldMember, soft: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """(D, H, W) signed share of one member's logit per voxel, for its softmax segmentation (1, C, D, H, W)."""
    with torch.enable_grad():
        probabilities = soft.detach().float().requires_grad_(True)
        features = torch.cat([tumour_statistics(probabilities, member.voxel_ml), available.float()], dim=1)
        logit = member.head(features).sum()
        (gradient,) = torch.autograd.grad(logit, probabilities)
    return (gradient * probabilities).sum(dim=1)[0].detach()


def logit_attribution(members: Sequence[FoldMember], softs: Sequence[torch.Tensor],
                      available: torch.Tensor) -> np.ndarray:
    """(D, H, W) in [0, 1]: how strongly each voxel moves the ensemble's logit (either way), 1 = strongest."""
    contribution = torch.stack([member_contribution(member, soft, available)
                                for member, soft in zip(members, softs, strict=True)]).mean(dim=0)
    magnitude = contribution.abs().cpu().numpy()
    peak = float(magnitude.max())
    return (magnitude / peak if peak > 0 else np.zeros_like(magnitude)).astype(np.float32)


def mass_inside(attribution: np.ndarray, region: np.ndarray, spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
                margin_mm: float = 0.0) -> float:
    """Share of the map's total mass inside ``region`` (a boolean mask on the same grid) grown by ``margin_mm``
    (a ball on a grid of ``spacing_mm``): how much of the explanation lies in the tumour."""
    from scipy import ndimage

    if margin_mm > 0:
        reach = [int(np.floor(margin_mm / s)) for s in spacing_mm]
        axes = np.ogrid[tuple(slice(-r, r + 1) for r in reach)]
        ball = sum((axis * s) ** 2 for axis, s in zip(axes, spacing_mm, strict=True)) <= margin_mm ** 2
        region = ndimage.binary_dilation(region, structure=ball)
    total = float(attribution.sum())
    return float(attribution[region].sum()) / total if total > 0 else 0.0


def export_attribution(attribution: np.ndarray, grid, path: Path) -> Path:
    """Write the map (float32, 0 to 1) with the model grid's RAS affine as NIfTI, for 3D Slicer or ITK-SNAP."""
    from core.inference.tumour import write_on_grid

    return write_on_grid(np.asarray(attribution, np.float32), grid, path)
