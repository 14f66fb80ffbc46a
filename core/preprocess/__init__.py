"""Study -> network input (and display volumes, brain mask) on one grid, as the model's config says.

The chain and the grid bring MONAI and the readers with them, so they are imported on first use: the chain's
settings (``core.preprocess.settings``), which the model's config composes, stay cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.preprocess.chain import PreparedStudy, prepare
    from core.preprocess.grid import Grid, ResampleToGrid

__all__ = ["Grid", "PreparedStudy", "ResampleToGrid", "prepare"]


def __getattr__(name: str) -> Any:
    if name in ("PreparedStudy", "prepare"):
        from core.preprocess import chain

        return getattr(chain, name)
    if name in ("Grid", "ResampleToGrid"):
        from core.preprocess import grid

        return getattr(grid, name)
    raise AttributeError(f"module 'core.preprocess' has no attribute '{name}'")
