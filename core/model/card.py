"""Model cards: the README.md of a model folder, in Hugging Face card format."""

from __future__ import annotations

from pathlib import Path

from core.model.network import DEFAULT_PREPROCESSING, MGMTNet

UNTRAINED_CARD = """---
library_name: mgmt-radiogenomics
license: apache-2.0
tags: [medical-imaging, mri, glioblastoma, mgmt, research-only, untrained]
---
**These weights are randomly initialised and untrained: their output carries no information at all.**

# MGMT promoter methylation from brain MRI (research demo), untrained placeholder weights

Architecture: MONAI 3D ResNet-10 (widen factor 0.5, stride-2 stem), four input channels (FLAIR, T1w, T1wCE,
T2w on a {shape} grid of {spacing} mm, z-scored over the brain), dropout, one logit. The bundled
weights exist so the application runs end to end before a model is trained; the training tools
(`python -m core train`) replace them.

Research use only. In the literature, MRI-based MGMT prediction is close to chance: the best private
leaderboard AUC of the RSNA-MICCAI 2021 competition was 0.62174 (a MONAI resnet10 on T1wCE), and that
winning model reached an AUC of 0.562 on an external hospital cohort (Kim et al., Cancers 2022).
"""


def write_untrained(folder: Path, seed: int = 0) -> MGMTNet:
    """Save a randomly initialised network with a card that says so in its first line."""
    import torch

    torch.manual_seed(seed)
    model = MGMTNet(preprocessing=dict(DEFAULT_PREPROCESSING), labels=["unmethylated", "methylated"])
    folder.mkdir(parents=True, exist_ok=True)
    config = model.preprocessing
    (folder / "README.md").write_text(UNTRAINED_CARD.format(
        shape="x".join(map(str, config["input_shape"])), spacing="x".join(map(str, config["spacing_mm"]))))
    model.save_pretrained(folder)
    return model
