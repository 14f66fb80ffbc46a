"""``python -m core synth``: options reach the generator, a summary is printed, user errors exit 2."""

from __future__ import annotations

from pathlib import Path

from core.__main__ import main


def test_synth_writes_the_cohort_and_prints_balance_auc_time_and_bytes(tmp_path: Path, capsys) -> None:
    assert main(["synth", "--out", str(tmp_path), "--cases", "2", "--seed", "4", "--format", "nifti"]) == 0
    out = capsys.readouterr().out
    assert "wrote 2 small nifti case(s)" in out and "s per case" in out and "MB)" in out
    assert "methylated" in out and "best achievable AUC 0.850" in out
    assert len(list((tmp_path / "train" / "00001").glob("BraTS2021_00001_*.nii.gz"))) == 4
    assert (tmp_path / "train_labels.csv").read_text().count("\n") == 3


def test_separation_option_sets_the_stated_ceiling(tmp_path: Path, capsys) -> None:
    assert main(["synth", "--out", str(tmp_path), "--cases", "1", "--separation", "0"]) == 0
    assert "best achievable AUC 0.500" in capsys.readouterr().out
    assert (tmp_path / "truth.csv").read_text().splitlines()[1].endswith(",0.0,0.5")


def test_a_file_as_output_folder_is_a_user_error(tmp_path: Path, capsys) -> None:
    target = tmp_path / "taken"
    target.write_text("")
    assert main(["synth", "--out", str(target), "--cases", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: --out ")


def test_old_cases_beyond_the_new_cohort_are_pointed_out(tmp_path: Path, capsys) -> None:
    (tmp_path / "train" / "00007").mkdir(parents=True)
    assert main(["synth", "--out", str(tmp_path), "--cases", "1"]) == 0
    assert "00007" in capsys.readouterr().err
