"""Choosing the scoring engine: names checked before anything is loaded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.__main__ import main
from core.errors import InputError, SettingsError
from core.model.hub import ModelSource
from core.scoring.engines import checked_engine
from core.scoring.ray_cluster import score_on_ray


def test_a_misspelt_engine_suggests_the_nearest() -> None:
    with pytest.raises(InputError, match="--engine is 'rya'; expected one of local, ray \\(did you mean 'ray'\\?\\)"):
        checked_engine("rya")


def test_batch_refuses_an_unknown_engine_before_scoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys) -> None:
    monkeypatch.setenv("MGMT_DB", str(tmp_path / "mgmt.duckdb"))
    assert main(["batch", str(tmp_path), "--engine", "spark"]) == 2
    assert capsys.readouterr().err.startswith("error: --engine is 'spark'")
    assert not (tmp_path / "mgmt.duckdb").exists()


def test_the_ray_engine_without_ray_installed_is_a_settings_error_naming_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as on a plain install
    source = ModelSource("weights", "local", tmp_path)
    with pytest.raises(SettingsError, match="package ray is not installed") as caught:
        score_on_ray({"00000": tmp_path}, source, 1, None, lambda result: None)
    assert "`pip install -r requirements-scale.txt`" in caught.value.user_message
