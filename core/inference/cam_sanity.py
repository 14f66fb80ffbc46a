"""Grad-CAM sanity check by model randomisation (Adebayo et al. 2018, "Sanity checks for saliency maps"): a map
that barely changes when the trained weights are replaced by random ones explains the input, not the model."""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy import stats


def randomised_copy(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The same network with every layer's parameters re-drawn from its initialiser (batch-norm statistics reset)."""
    clone = copy.deepcopy(model)
    torch.manual_seed(seed)
    for module in clone.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()
    return clone.eval()


def map_rank_correlation(first: np.ndarray, second: np.ndarray, mask: np.ndarray) -> float:
    """Spearman rank correlation of two maps over the voxels of ``mask`` (the brain)."""
    return float(stats.spearmanr(first[mask], second[mask]).statistic)
