"""The bundled model's card: its held-out figures are what `python -m core evaluate` gives.

The card's held-out AUC is recomputed from the per-case probabilities that evaluation-held-out.json carries, and the
first cases of the card's held-out cohort, written again with the card's own synth command and evaluated with the
bundled model, must get those probabilities: the whole cohort takes minutes to score, a few cases seconds.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from core.model import BUNDLED

ROOT = Path(__file__).resolve().parents[2]
CARD = (BUNDLED / "README.md").read_text()
HELD_OUT = BUNDLED / "evaluation-held-out.json"
RESCORED_CASES = 12
"""Cases re-scored (~1 s each); the cohort's first twelve hold both labels."""
PROBABILITY_TOLERANCE = 1e-4
"""Float differences between CPUs and thread counts move a probability by ~1e-7; a changed model moves it by far
more."""


def held_out_section() -> str:
    return CARD.split("## Held-out evaluation")[1].split("<!-- end of held-out evaluation -->")[0]


pytestmark = pytest.mark.skipif("## Held-out evaluation" not in CARD or not HELD_OUT.is_file(),
                                reason="the bundled weights carry no held-out evaluation")


def test_the_cards_held_out_auc_is_that_of_its_per_case_probabilities() -> None:
    figures = json.loads(HELD_OUT.read_text())
    cases = figures["cases"]
    auc = float(re.search(r"\| ROC AUC \| ([0-9.]+)", held_out_section()).group(1))
    assert len(cases) == figures["n"]
    assert round(roc_auc_score([c["label"] for c in cases], [c["probability"] for c in cases]), 3) == auc
    assert round(figures["auc"], 3) == auc


@pytest.mark.slow
def test_evaluate_gives_the_cards_probabilities_to_the_first_held_out_cases(tmp_path: Path) -> None:
    cases, seed = map(int, re.search(r"--cases (\d+) --seed (\d+)", held_out_section()).groups())
    assert cases > RESCORED_CASES
    recorded = {c["id"]: c for c in json.loads(HELD_OUT.read_text())["cases"]}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    data = tmp_path / "heldout"
    subprocess.run([sys.executable, "-m", "core", "synth", "--out", str(data), "--cases", str(RESCORED_CASES),
                    "--seed", str(seed)], cwd=ROOT, check=True, capture_output=True, env=env, timeout=600)
    run = subprocess.run([sys.executable, "-m", "core", "evaluate", str(data), "--labels",
                          str(data / "train_labels.csv"), "--model", str(BUNDLED), "--out", str(tmp_path / "eval"),
                          "--json"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    with open(tmp_path / "eval" / "predictions.csv", newline="") as handle:
        rescored = list(csv.DictReader(handle))
    # the same cases as the whole cohort's evaluation scored among the first (one it skipped is skipped here too)
    assert {f"{int(row['BraTS21ID']):05d}" for row in rescored} == {i for i in recorded if int(i) < RESCORED_CASES}
    for row in rescored:
        case = recorded[f"{int(row['BraTS21ID']):05d}"]
        assert int(row["MGMT_value"]) == case["label"]
        assert float(row["probability"]) == pytest.approx(case["probability"], abs=PROBABILITY_TOLERANCE)
    assert {int(row["MGMT_value"]) for row in rescored} == {0, 1}
