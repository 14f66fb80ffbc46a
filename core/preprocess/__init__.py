"""Study -> network input (and its intensities, brain mask) on one grid, as the model's config says."""

from core.preprocess.chain import PreparedStudy, prepare
from core.preprocess.grid import Grid, ResampleToGrid

__all__ = ["Grid", "PreparedStudy", "ResampleToGrid", "prepare"]
