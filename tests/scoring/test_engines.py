"""Choosing the scoring engine: names checked before anything is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.__main__ import main
from core.errors import InputError
from core.scoring.engines import checked_engine


def test_a_misspelt_engine_suggests_the_nearest() -> None:
    with pytest.raises(InputError, match="--engine is 'rya'; expected one of local, ray \\(did you mean 'ray'\\?\\)"):
        checked_engine("rya")


def test_batch_refuses_an_unknown_engine_before_scoring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys) -> None:
    monkeypatch.setenv("MGMT_DB", str(tmp_path / "mgmt.duckdb"))
    assert main(["batch", str(tmp_path), "--engine", "spark"]) == 2
    assert capsys.readouterr().err.startswith("error: --engine is 'spark'")
    assert not (tmp_path / "mgmt.duckdb").exists()
