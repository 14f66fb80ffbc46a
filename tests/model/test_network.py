"""The network: two outputs, the availability vector, the calibration map, strict loading from config.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.model.network import MGMTNet, availability_of, tumour_statistics

TINY = {"input_shape": [32, 32, 32], "spacing_mm": [6.0, 6.0, 6.0]}


@pytest.fixture(scope="module")
def model() -> MGMTNet:
    torch.manual_seed(0)
    return MGMTNet(widen_factor=0.25, preprocessing=TINY).eval()


def test_outputs_are_a_logit_and_four_segmentation_channels_on_the_input_grid(model: MGMTNet) -> None:
    logit, segmentation = model.outputs(torch.randn(2, 4, 32, 32, 32))
    assert logit.shape == (2, 1) and segmentation.shape == (2, 4, 32, 32, 32)
    assert model.config.segmentation_labels == (0, 1, 2, 4)


def test_a_channel_marked_missing_is_ignored_whatever_it_holds(model: MGMTNet) -> None:
    x = torch.randn(1, 4, 32, 32, 32)
    other = x.clone()
    other[:, 3] = torch.randn(32, 32, 32) * 5
    without_t2 = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    with torch.no_grad():
        assert torch.allclose(model(x, without_t2), model(other, without_t2))
        assert not torch.allclose(model(x, without_t2), model(x))  # the model is told, so the answer changes
        blank = x.clone()
        blank[:, 3] = 0
        assert torch.allclose(model(blank), model(x, without_t2))  # a blank channel is read as missing


def test_availability_of_finds_blank_channels() -> None:
    x = torch.ones(2, 4, 4, 4, 4)
    x[1, 2] = 0
    assert availability_of(x).tolist() == [[1, 1, 1, 1], [1, 1, 0, 1]]


def test_tumour_statistics_are_soft_volumes_in_ml_and_ratios() -> None:
    probabilities = torch.zeros(1, 4, 10, 10, 10)
    probabilities[0, 0] = 1.0
    probabilities[0, :, :2] = torch.tensor([0.0, 0.5, 0.25, 0.25])[:, None, None, None]  # 200 voxels
    statistics = tumour_statistics(probabilities, voxel_ml=0.027)
    necrotic, enhancing = 200 * 0.5 * 0.027, 200 * 0.25 * 0.027
    assert statistics[0, 0].item() == pytest.approx(torch.log1p(torch.tensor(necrotic)).item(), rel=1e-5)
    assert statistics[0, 3].item() == pytest.approx(torch.log1p(torch.tensor(5.4)).item(), rel=1e-5)
    assert statistics[0, 4].item() == pytest.approx(necrotic / (necrotic + enhancing + 0.05), rel=1e-5)


def test_calibration_map_is_slope_times_logit_plus_intercept() -> None:
    model = MGMTNet(widen_factor=0.25, preprocessing=TINY,
                    calibration={"method": "platt", "slope": 0.5, "intercept": -1.0})
    assert model.calibrated(torch.tensor([[4.0]])).item() == pytest.approx(1.0)


def test_saved_model_loads_strictly_with_everything_in_config_json(model: MGMTNet, tmp_path: Path) -> None:
    calibrated = MGMTNet(widen_factor=0.25, preprocessing=TINY, threshold=0.4,
                         calibration={"method": "platt", "slope": 0.8, "intercept": 0.1})
    calibrated.load_state_dict(model.state_dict())
    calibrated.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architecture"] == "tumour-unet" and config["calibration"]["slope"] == 0.8
    assert config["segmentation_labels"] == [0, 1, 2, 4] and config["preprocessing"]["input_shape"] == [32, 32, 32]
    loaded = MGMTNet.from_pretrained(str(tmp_path), strict=True).eval()
    x = torch.randn(1, 4, 32, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x))
    assert loaded.config.calibration.intercept == 0.1 and loaded.config.threshold == 0.4
    state = calibrated.state_dict()
    state.pop("members.0.head.3.bias")
    torch.save(state, tmp_path / "partial.pt")
    with pytest.raises(RuntimeError, match="members.0.head.3.bias"):
        MGMTNet(widen_factor=0.25, preprocessing=TINY).load_state_dict(torch.load(tmp_path / "partial.pt"))


def test_fold_models_are_saved_together_and_their_logits_averaged(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ensemble = MGMTNet(widen_factor=0.25, preprocessing=TINY, members=2).eval()
    ensemble.save_pretrained(tmp_path)
    loaded = MGMTNet.from_pretrained(str(tmp_path), strict=True).eval()
    x = torch.randn(1, 4, 32, 32, 32)
    with torch.no_grad():
        each = [member.outputs(x)[0] for member in loaded.members]
        assert len(loaded.members) == 2 and not torch.allclose(each[0], each[1])
        assert torch.allclose(loaded(x), (each[0] + each[1]) / 2) and torch.allclose(loaded(x), ensemble(x))


def test_unknown_architecture_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ValueError, match="Did you mean 'tumour-unet'"):
        MGMTNet(architecture="tumor-unet")
