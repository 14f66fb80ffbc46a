"""The bundled model's card: its held-out figures are what `python -m core evaluate` reproduces."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.model import BUNDLED

ROOT = Path(__file__).resolve().parents[2]
CARD = (BUNDLED / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.skipif("## Held-out evaluation" not in CARD, reason="the bundled weights carry no held-out evaluation")
def test_evaluate_reproduces_the_cards_held_out_figures(tmp_path: Path) -> None:
    heldout = CARD.split("## Held-out evaluation")[1]
    cases, seed = map(int, re.search(r"--cases (\d+) --seed (\d+)", heldout).groups())
    auc = float(re.search(r"\| ROC AUC \| ([0-9.]+)", heldout).group(1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    data = tmp_path / "heldout"
    subprocess.run([sys.executable, "-m", "core", "synth", "--out", str(data), "--cases", str(cases), "--seed",
                    str(seed)], cwd=ROOT, check=True, capture_output=True, env=env, timeout=900)
    run = subprocess.run([sys.executable, "-m", "core", "evaluate", str(data), "--labels",
                          str(data / "train_labels.csv"), "--model", str(BUNDLED), "--out", str(tmp_path / "eval"),
                          "--json"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert round(json.loads(run.stdout)["auc"], 3) == auc
