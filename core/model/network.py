"""The network: a small MONAI residual U-Net over the four sequences that segments the tumour (BraTS
sub-regions) and reads one methylation logit from tumour-aware features; a Hugging Face Hub model.

The head sees differentiable soft volumes and ratios of the predicted sub-regions (sums of softmax
probabilities) and which sequences were present (the availability vector). Missing
sequences are blank (zero) channels; the availability vector also enters the encoder as constant channels.

Everything needed to rebuild it and to prepare its input lives in its config.json (the init arguments,
written by ``PyTorchModelHubMixin``), so another model repo can ship another width or grid.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from monai.networks.blocks import Convolution, ResidualUnit, UpSample
from torch import nn
from torch.nn import functional as F

from core.model.config import SEGMENT_LABELS, ModelConfig
from core.preprocess.settings import Preprocessing

ARCHITECTURES = ("tumour-unet",)
"""Architectures a config may name: a residual U-Net (MONAI blocks) with a tumour-aware classification head."""

BASE_WIDTHS = (32, 64, 128, 256)
TUMOUR_STATISTICS = 8
"""Soft tumour measurements the head reads (see ``tumour_statistics``)."""


def _suggest(name: str, allowed: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(name, allowed, n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def availability_of(x: torch.Tensor) -> torch.Tensor:
    """(batch, channels) 1.0 where a channel holds any non-zero voxel (a blank channel is a missing sequence)."""
    return (x.detach().abs().flatten(2).amax(dim=2) > 0).to(x.dtype)


def tumour_statistics(probabilities: torch.Tensor, voxel_ml: float) -> torch.Tensor:
    """Differentiable measurements of the soft segmentation (batch, 8): log(1 + ml) of necrotic core, oedema,
    enhancing and whole tumour; necrotic share of the core; log oedema-to-core ratio; oedema and enhancing
    shares of the whole tumour. Channels follow ``SEGMENT_LABELS``."""
    volumes = probabilities.flatten(2).sum(dim=2) * voxel_ml  # (batch, 4) ml per channel
    necrotic, oedema, enhancing = volumes[:, 1], volumes[:, 2], volumes[:, 3]
    whole, core = necrotic + oedema + enhancing, necrotic + enhancing
    eps = 0.05  # ml: keeps ratios finite (and near zero) when no tumour is found
    return torch.stack([
        torch.log1p(necrotic), torch.log1p(oedema), torch.log1p(enhancing), torch.log1p(whole),
        necrotic / (core + eps), torch.log((oedema + eps) / (core + eps)),
        oedema / (whole + eps), enhancing / (whole + eps),
    ], dim=1)


class TumourUNet(nn.Module):
    """Residual U-Net (MONAI blocks): strided stem to 1/2, three more strided stages to 1/16, a decoder with skip
    connections back to 1/2, logits upsampled to the input and refined per voxel with the raw image (the
    sub-regions differ in intensity). No 3x3 convolution runs at full resolution: it is what keeps the CPU
    forward pass small."""

    def __init__(self, in_channels: int, image_channels: int, classes: int, widths: tuple[int, ...],
                 stem_stride: int = 2) -> None:
        super().__init__()
        w0, w1, w2, w3 = widths
        conv = {"spatial_dims": 3, "act": "RELU", "norm": "BATCH"}
        self.stem = Convolution(in_channels=in_channels, out_channels=w0, strides=stem_stride, **conv)
        self.down2 = ResidualUnit(in_channels=w0, out_channels=w1, strides=2, **conv)
        self.down3 = ResidualUnit(in_channels=w1, out_channels=w2, strides=2, **conv)
        self.down4 = ResidualUnit(in_channels=w2, out_channels=w3, strides=2, **conv)
        self.up3 = UpSample(3, w3, w2, mode="deconv")
        self.dec3 = ResidualUnit(in_channels=2 * w2, out_channels=w2, subunits=1, **conv)
        self.up2 = UpSample(3, w2, w1, mode="deconv")
        self.dec2 = ResidualUnit(in_channels=2 * w1, out_channels=w1, subunits=1, **conv)
        self.up1 = UpSample(3, w1, w0, mode="deconv")
        self.dec1 = nn.Sequential(Convolution(in_channels=2 * w0, out_channels=w0, kernel_size=1, **conv),
                                  nn.Conv3d(w0, classes, 1))
        self.refine = nn.Sequential(nn.Conv3d(classes + image_channels, 2 * classes, 1), nn.ReLU(),
                                    nn.Conv3d(2 * classes, classes, 1))
        self.image_channels = image_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Bottleneck features (batch, w3, ...) and segmentation logits (batch, classes, D, H, W)."""
        s1 = self.stem(x)
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        bottom = self.down4(s3)
        d3 = self.dec3(torch.cat([self.up3(bottom), s3], dim=1))
        d2 = self.dec2(torch.cat([self.up2(d3), s2], dim=1))
        coarse = self.dec1(torch.cat([self.up1(d2), s1], dim=1))
        logits = F.interpolate(coarse, size=x.shape[2:], mode="trilinear", align_corners=False)
        return bottom, logits + self.refine(torch.cat([logits, x[:, :self.image_channels]], dim=1))


class FoldMember(nn.Module):
    """One trained network: the U-Net that segments the tumour and the head that reads the methylation logit from
    the soft sub-region measurements and the availability vector."""

    def __init__(self, channels: int, classes: int, widths: tuple[int, ...], stem_stride: int, dropout: float,
                 voxel_ml: float) -> None:
        super().__init__()
        self.unet = TumourUNet(2 * channels, channels, classes, widths, stem_stride)
        self.voxel_ml = voxel_ml
        hidden = 32
        self.head = nn.Sequential(nn.Linear(TUMOUR_STATISTICS + channels, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, 1))

    def encode(self, x: torch.Tensor, available: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's input (batch, 8 + 4): the soft tumour measurements and the availability vector; and the
        segmentation logits (batch, 4, D, H, W), for input (batch, 4, D, H, W). ``available`` (batch, 4) says
        which sequences are present (default: the non-blank channels); missing channels are zeroed whatever they
        hold. (Measured on the validation cohort: a linear model of these eight measurements reached the
        latent-score AUC, while a head that also read 128 pooled encoder features fell 0.12 short.)"""
        if available is None:
            available = availability_of(x)
        available = available.to(x.dtype)
        x = x * available[:, :, None, None, None]
        constant = available[:, :, None, None, None].expand_as(x)
        _, segmentation = self.unet(torch.cat([x, constant], dim=1))
        statistics = tumour_statistics(torch.softmax(segmentation.float(), dim=1), self.voxel_ml)
        return torch.cat([statistics.to(x.dtype), available], dim=1), segmentation

    def outputs(self, x: torch.Tensor, available: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Methylation logit (batch, 1), uncalibrated, and segmentation logits (batch, 4, D, H, W)."""
        features, segmentation = self.encode(x, available)
        return self.head(features), segmentation


class MGMTNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="mgmt-radiogenomics",
    tags=["medical-imaging", "mri", "glioblastoma", "mgmt", "research-only", "segmentation"],
    license="apache-2.0",
):
    """Tumour segmentation (BraTS sub-regions) and one methylation logit from tumour-aware features: ``members``
    networks of the same shape (the K fold models of cross-validation, ensembled as nnU-Net does; one while
    training)."""

    def __init__(
        self,
        architecture: str = "tumour-unet",
        widen_factor: float = 0.5,
        stem_stride: int = 2,
        dropout: float = 0.3,
        preprocessing: dict[str, Any] | Preprocessing | None = None,
        labels: list[str] | None = None,
        threshold: float = 0.5,
        training: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        segmentation_labels: tuple[int, ...] | list[int] = SEGMENT_LABELS,
        calibration: dict[str, Any] | None = None,
        members: int = 1,
    ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture '{architecture}' is not one of {ARCHITECTURES}."
                             f"{_suggest(architecture, ARCHITECTURES)}")
        if not isinstance(members, int) or members < 1:
            raise ValueError(f"members is {members!r}; expected a positive number of fold models")
        if isinstance(preprocessing, Preprocessing):
            preprocessing = preprocessing.to_json()
        self.config = ModelConfig.from_json({
            "architecture": architecture, "widen_factor": widen_factor, "stem_stride": stem_stride,
            "dropout": dropout, "preprocessing": {**Preprocessing().to_json(), **(preprocessing or {})},
            "labels": labels or ["unmethylated", "methylated"], "threshold": threshold, "training": training or {},
            "metrics": metrics or {}, "segmentation_labels": list(segmentation_labels),
            "calibration": calibration or {}})
        """What config.json says, validated (ConfigFieldError, a ValueError, for a wrong field)."""
        channels = len(self.config.preprocessing.sequences)
        widths = tuple(max(4, int(w * widen_factor)) for w in BASE_WIDTHS)
        self.voxel_ml = math.prod(self.config.preprocessing.spacing_mm) / 1000.0
        self.members = nn.ModuleList([
            FoldMember(channels, len(self.config.segmentation_labels), widths, stem_stride, dropout, self.voxel_ml)
            for _ in range(members)])

    @property
    def unet(self) -> TumourUNet:
        """The first member's U-Net (the only one while training)."""
        return self.members[0].unet

    @property
    def head(self) -> nn.Sequential:
        """The first member's head (the only one while training)."""
        return self.members[0].head

    def encode(self, x: torch.Tensor, available: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The first member's head input and segmentation logits (see ``FoldMember.encode``)."""
        return self.members[0].encode(x, available)

    def outputs(self, x: torch.Tensor, available: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Methylation logit (batch, 1), uncalibrated, the mean over the members; and segmentation logits (batch, 4,
        D, H, W), the log of the members' mean softmax (the first member's own logits when there is one)."""
        if len(self.members) == 1:
            return self.members[0].outputs(x, available)
        logits, soft = [], []
        for member in self.members:
            logit, segmentation = member.outputs(x, available)
            logits.append(logit)
            soft.append(torch.softmax(segmentation.float(), dim=1))
        return torch.stack(logits).mean(dim=0), torch.log(torch.stack(soft).mean(dim=0).clamp_min(1e-8))

    def forward(self, x: torch.Tensor, available: torch.Tensor | None = None) -> torch.Tensor:
        """Methylation logits (batch, 1), uncalibrated (the members' mean), for input (batch, 4, D, H, W)."""
        return self.outputs(x, available)[0]

    def calibrated(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits after the calibration map fitted at training (Platt: slope * logit + intercept)."""
        return logits * self.config.calibration.slope + self.config.calibration.intercept
