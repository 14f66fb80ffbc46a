"""Training-time changes to a case: spatial and intensity augmentation (image and label map together) and
sequence dropout (some sequences blanked, the model told which)."""

from __future__ import annotations

import numpy as np
from monai.transforms import Compose, RandFlipd, RandRotated, RandScaleIntensityd, RandShiftIntensityd


def segmentation_augmentations() -> Compose:
    """Left-right flip, small rotations (label map by nearest neighbour) and intensity scale/shift on
    ``{"image": (4, D, H, W), "label": (1, D, H, W)}`` (the label is optional)."""
    both = ["image", "label"]
    return Compose([
        RandFlipd(both, prob=0.5, spatial_axis=0, allow_missing_keys=True),
        RandRotated(both, range_x=0.15, range_y=0.15, range_z=0.15, prob=0.25, mode=("bilinear", "nearest"),
                    padding_mode="zeros", allow_missing_keys=True),
        RandScaleIntensityd("image", factors=0.1, prob=0.5),
        RandShiftIntensityd("image", offsets=0.1, prob=0.5),
    ])


def sequence_dropout(rng: np.random.Generator, channels: int, probability: float) -> np.ndarray:
    """Availability vector (float32, 1 = present): with ``probability``, one or two of the channels (equally
    likely) are marked missing; at least one always stays."""
    available = np.ones(channels, np.float32)
    if channels > 1 and rng.random() < probability:
        count = min(channels - 1, int(rng.integers(1, 3)))
        available[rng.choice(channels, size=count, replace=False)] = 0.0
    return available
