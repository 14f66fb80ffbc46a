"""A model card's evaluation section: its Dice row names the BraTS regions as core/regions.py does."""

from __future__ import annotations

from pathlib import Path

from core.model.card import write_heldout_section

METRICS = {"n": 40, "auc": 0.81, "auc_ci95": [0.7, 0.9], "threshold": 0.5, "accuracy": 0.75, "precision": 0.7,
           "recall": 0.8, "f1": 0.75, "brier": 0.18}


def test_the_dice_row_gives_whole_tumour_tumour_core_and_enhancing_tumour(tmp_path: Path) -> None:
    dice = {"n": 40, "whole": {"median": 0.912}, "core": {"median": 0.874}, "enhancing": {"median": 0.851},
            "necrotic": {"median": 0.8}, "oedema": {"median": 0.7}}
    write_heldout_section(tmp_path, {**METRICS, "dice": dice}, "Synthetic cohort", "python -m core evaluate ...")
    card = (tmp_path / "README.md").read_text()
    assert "| Dice, median over 40 cases: whole tumour / tumour core / enhancing tumour | 0.912 / 0.874 / 0.851 |" \
        in card


def test_a_report_from_before_the_tumour_core_gives_the_regions_it_has(tmp_path: Path) -> None:
    dice = {"n": 12, "whole": {"median": 0.9}, "enhancing": {"median": 0.85}, "necrotic": {"median": 0.8}}
    write_heldout_section(tmp_path, {**METRICS, "dice": dice}, "Synthetic cohort", "python -m core evaluate ...")
    assert "| Dice, median over 12 cases: whole tumour / enhancing tumour | 0.900 / 0.850 |" in \
        (tmp_path / "README.md").read_text()
