"""Study -> network input (and display volumes, brain mask) on one grid, as the model's config says."""

from core.preprocess.chain import PreparedStudy, prepare, training_augmentations
from core.preprocess.grid import Grid, ResampleToGrid

__all__ = ["Grid", "PreparedStudy", "ResampleToGrid", "prepare", "training_augmentations"]
