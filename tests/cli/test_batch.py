"""``python -m core batch``: a cohort folder scored into DuckDB, the same probabilities as ``predict``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from core.__main__ import main
from core.store import TRAINING_COHORT, Store
from tests.conftest import write_cohort_with_a_broken_case


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """Four synthetic cases plus a labelled fifth whose folder holds no image."""
    return write_cohort_with_a_broken_case(tmp_path_factory.mktemp("site") / "site-b")


def _predict_json(folder: Path, capsys: pytest.CaptureFixture) -> dict:
    assert main(["predict", str(folder), "--json", "--no-cam", "--no-log"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_batch_scores_each_case_as_predict_does_and_skips_a_broken_one(cohort: Path, db: Path, capsys) -> None:
    code = main(["batch", str(cohort), "--labels", str(cohort / "train_labels.csv"), "--workers", "2", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "skipped 00004: " in err and "scored 4 case(s)" in out and "cohort 'site-b'" in out
    cases = Store(db).cohort("site-b", "bundled weights/", "local")
    assert cases["case"].tolist() == ["00000", "00001", "00002", "00003"]
    labels = (cohort / "train_labels.csv").read_text().splitlines()[1:5]
    assert cases["label"].tolist() == [int(line.split(",")[1]) for line in labels]
    for case, probability in zip(cases["case"], cases["probability"], strict=True):
        expected = _predict_json(cohort / "train" / case, capsys)["probability"]
        assert probability == pytest.approx(expected, abs=1e-6), case


@pytest.mark.slow
def test_batch_without_labels_scores_every_folder_under_the_given_name(cohort: Path, db: Path, capsys) -> None:
    assert main(["batch", str(cohort / "train"), "--name", "unlabelled", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "scored 4 case(s)" in out and "ROC AUC" not in out and "skipped 00004: " in err
    store = Store(db)
    assert store.cohort("unlabelled", "bundled weights/", "local")["label"].isna().all()
    assert store.cohorts("bundled weights/", "local") == [TRAINING_COHORT, "unlabelled"]


def test_batch_with_no_readable_case_exits_2(tmp_path: Path, db: Path, capsys) -> None:
    (tmp_path / "cohort" / "00001").mkdir(parents=True)
    assert main(["batch", str(tmp_path / "cohort"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "skipped 00001: " in err and "error: No case of" in err


def test_batch_rejects_zero_workers(tmp_path: Path, db: Path, capsys) -> None:
    assert main(["batch", str(tmp_path), "--workers", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --workers is 0")


def test_batch_on_a_missing_folder_names_it(tmp_path: Path, db: Path, capsys) -> None:
    assert main(["batch", str(tmp_path / "nowhere"), "--quiet"]) == 2
    assert "nowhere' is not a folder" in capsys.readouterr().err


def test_batch_replaces_a_cohort_of_the_same_name(cohort: Path, db: Path, tmp_path: Path, capsys) -> None:
    single = tmp_path / "site-b"
    shutil.copytree(cohort / "train" / "00002", single / "00002")
    earlier = pd.DataFrame({"case": ["00007", "00008"], "fold": [None, None], "label": [1, 0],
                            "probability": [0.4, 0.6]})
    Store(db).replace_cohort("site-b", "bundled weights/", "local", earlier)
    assert main(["batch", str(single), "--quiet"]) == 0
    assert Store(db).cohort("site-b", "bundled weights/", "local")["case"].tolist() == ["00002"]

