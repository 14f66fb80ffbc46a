"""Tissue intensities follow their real relative order in every sequence; --skull adds scalp and bone."""

from __future__ import annotations

import numpy as np
import pytest

from core.regions import LABELS
from core.synth.anatomy import deformed, head_layers
from core.synth.cases import case_rng
from core.synth.contrast import render_all
from core.synth.tumour import DEFAULT_SEPARATION, draw_traits, tumour_labels


@pytest.fixture(scope="module")
def rendered():
    rng = case_rng(5, 0)
    anatomy = deformed(rng, 2.0)
    labels = tumour_labels(rng, anatomy, draw_traits(rng, anatomy, DEFAULT_SEPARATION))
    images = render_all(anatomy, labels, None)
    healthy = labels == 0
    masks = {"white": healthy & (anatomy.white > 0.9), "grey": healthy & (anatomy.grey > 0.9),
             "csf": healthy & (anatomy.csf > 0.9), **{label.key: labels == label.value for label in LABELS}}
    assert all(mask.sum() > 20 for mask in masks.values())
    return {seq: {tissue: float(image[mask].mean()) for tissue, mask in masks.items()} for seq, image in images.items()}


def test_flair_lights_oedema_and_darkens_csf(rendered) -> None:
    flair = rendered["FLAIR"]
    assert flair["oedema"] > flair["grey"] > flair["white"] > flair["csf"]


def test_t1_has_white_over_grey_over_csf_and_a_dark_necrotic_core(rendered) -> None:
    t1 = rendered["T1w"]
    assert t1["white"] > t1["grey"] > t1["csf"]
    assert t1["necrotic"] < t1["oedema"] < t1["white"]
    assert t1["enhancing"] < t1["white"]  # no enhancement before gadolinium


def test_t1ce_lights_only_the_enhancing_tumour(rendered) -> None:
    t1ce, t1 = rendered["T1wCE"], rendered["T1w"]
    assert t1ce["enhancing"] > t1ce["white"] > t1ce["necrotic"]
    assert t1ce["enhancing"] / t1ce["white"] > 1.3 > t1["enhancing"] / t1["white"]


def test_t2_lights_fluid_csf_necrotic_core_and_oedema(rendered) -> None:
    t2 = rendered["T2w"]
    assert t2["csf"] > t2["grey"] > t2["white"]
    assert t2["necrotic"] > t2["oedema"] > t2["white"]


def test_skull_adds_bright_scalp_fat_and_dark_bone_on_t1() -> None:
    anatomy = deformed(case_rng(2, 0), 2.0)
    layers = head_layers(anatomy.brain, anatomy.spacing)
    t1 = render_all(anatomy, np.zeros(anatomy.shape, np.uint8), layers)["T1w"]
    white = anatomy.white > 0.9
    assert t1[layers["scalp"]].mean() > t1[white].mean()
    assert t1[layers["bone"]].mean() < 0.2 * t1[white].mean()
    assert not (layers["bone"] & anatomy.brain).any()
