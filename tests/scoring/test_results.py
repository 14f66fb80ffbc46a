"""The per-case CSV of ``batch --out``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.errors import InputError
from core.scoring import CaseResult, write_results


def test_each_case_is_one_line_in_case_order_with_its_status_and_known_label(tmp_path: Path) -> None:
    path = tmp_path / "out" / "results.csv"
    results = [CaseResult("00002", 0.123456789012, "unmethylated"),
               CaseResult.failed("00001", "Study folder '00001' has no FLAIR series.\nSecond line."),
               CaseResult("00000", 0.9, "methylated"),
               CaseResult("00003", 0.41, "indeterminate", abstained=True)]
    write_results(path, results, {"00000": 1, "00001": 0})
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["case", "probability", "label", "status", "reason", "MGMT_value"],
                    ["00000", "0.900000000", "methylated", "ok", "", "1"],
                    ["00001", "", "", "failed", "Study folder '00001' has no FLAIR series.", "0"],
                    ["00002", "0.123456789", "unmethylated", "ok", "", ""],
                    ["00003", "0.410000000", "indeterminate", "abstained", "", ""]]
    assert [entry.name for entry in path.parent.iterdir()] == ["results.csv"]  # no partial file left


def test_an_unwritable_out_path_names_it(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(InputError, match="results file .*taken/results.csv' cannot be written"):
        write_results(tmp_path / "taken" / "results.csv", [CaseResult("00000", 0.5, "methylated")], {})
