"""The explanation map lies where the logit comes from: in the soft tumour sub-regions the head reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.inference import Predictor
from core.inference.attribution import logit_attribution, mass_inside
from core.ingest import load_study
from core.model import MGMTNet
from core.preprocess.settings import Preprocessing
from core.synth.cases import write_case
from core.train.masks import mask_on_grid, mask_path

TINY = Preprocessing(input_shape=(32, 32, 32), spacing_mm=(6.0, 6.0, 6.0))


def _soft_segmentation(tumour: np.ndarray) -> torch.Tensor:
    """(1, 4, D, H, W) softmax-like probabilities: necrotic core, oedema and enhancing inside ``tumour``."""
    soft = np.zeros((1, 4, *tumour.shape), np.float32)
    soft[0, 0] = np.where(tumour, 0.1, 0.9999)
    for channel, share in ((1, 0.2), (2, 0.4), (3, 0.3)):
        soft[0, channel] = np.where(tumour, share, 0.0001 / 3)
    return torch.from_numpy(soft)


def test_the_map_lies_in_the_sub_regions_the_head_reads() -> None:
    torch.manual_seed(0)
    model = MGMTNet(widen_factor=0.25, preprocessing=TINY, members=2).eval()
    tumour = np.zeros((32, 32, 32), bool)
    tumour[4:12, 18:26, 10:16] = True
    soft = _soft_segmentation(tumour)
    attribution = logit_attribution(model.members, [soft, soft], torch.ones(1, 4))
    assert attribution.shape == (32, 32, 32) and attribution.max() == pytest.approx(1.0) and attribution.min() >= 0
    assert mass_inside(attribution, tumour) > 0.99


def test_the_map_averages_what_each_fold_model_reads() -> None:
    torch.manual_seed(1)
    model = MGMTNet(widen_factor=0.25, preprocessing=TINY, members=2).eval()
    left, right = np.zeros((32, 32, 32), bool), np.zeros((32, 32, 32), bool)
    left[2:8, 10:20, 10:20], right[24:30, 10:20, 10:20] = True, True
    attribution = logit_attribution(model.members, [_soft_segmentation(left), _soft_segmentation(right)],
                                    torch.ones(1, 4))
    assert mass_inside(attribution, left) > 0.05 and mass_inside(attribution, right) > 0.05
    assert mass_inside(attribution, left | right) > 0.99


def test_a_margin_grows_the_region_by_whole_voxels_within_reach() -> None:
    attribution = np.zeros((9, 9, 9), np.float32)
    attribution[4, 4, 4], attribution[4, 4, 6], attribution[4, 4, 7] = 1.0, 1.0, 1.0
    centre = np.zeros((9, 9, 9), bool)
    centre[4, 4, 4] = True
    assert mass_inside(attribution, centre, (3.0, 3.0, 3.0), margin_mm=6.0) == pytest.approx(2 / 3)


def test_the_exported_map_keeps_its_values_and_the_grids_ras_affine(tmp_path: Path) -> None:
    import nibabel as nib

    from core.inference.attribution import export_attribution
    from core.preprocess import Grid

    grid = Grid.centred(np.array([1.0, -17.0, 12.0]), (3.0, 3.0, 3.0), (8, 8, 8))
    attribution = np.random.default_rng(0).random((8, 8, 8)).astype(np.float32)
    image = nib.load(export_attribution(attribution, grid, tmp_path / "map.nii.gz"))
    np.testing.assert_allclose(image.affine, grid.affine)
    np.testing.assert_allclose(np.asarray(image.dataobj), attribution)
    assert nib.aff2axcodes(image.affine) == ("R", "A", "S") and int(image.header["sform_code"]) == 1


@pytest.mark.slow
def test_the_bundled_models_map_lies_in_the_true_tumour(tmp_path: Path) -> None:
    predictor = Predictor.load()
    spacing = predictor.config.preprocessing.spacing_mm
    shares = []
    for index in (3, 20, 42):  # cases of seed 2000, which no bundled model was trained or chosen on
        truth = write_case(tmp_path, index, seed=2000)
        artefacts = predictor.predict(load_study(tmp_path / "train" / truth.case_id),
                                      with_contributions=False).artefacts
        tumour = mask_on_grid(mask_path(tmp_path / "masks", truth.case_id), artefacts.prepared.grid) > 0
        shares.append(mass_inside(artefacts.cam, tumour, spacing, margin_mm=3.0))
    assert np.median(shares) >= 0.5, shares
