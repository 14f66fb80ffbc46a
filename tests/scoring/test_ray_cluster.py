"""The Ray engine: the same probabilities as the local engine, a failing study reported, a killed worker's
studies run again. One local Ray for the module (starting one takes seconds); every test here is slow."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from core.__main__ import main
from core.inference import Predictor
from core.ingest import load_study
from core.scoring import CaseResult
from core.scoring.ray_cluster import score_on_ray

pytestmark = pytest.mark.slow


def _rows(path: Path, key: str = "case") -> dict[str, dict[str, str]]:
    with open(path, newline="") as handle:
        return {row[key]: row for row in csv.DictReader(handle)}


def test_ray_scores_as_the_local_engine_does_and_reports_the_broken_study(
        cohort: Path, ray_cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("MGMT_DB", str(tmp_path / "mgmt.duckdb"))
    labels = ["--labels", str(cohort / "train_labels.csv"), "--quiet"]
    assert main(["batch", str(cohort), *labels, "--out", str(tmp_path / "local.csv")]) == 0
    assert main(["batch", str(cohort), *labels, "--engine", "ray", "--workers", "2",
                 "--out", str(tmp_path / "ray.csv")]) == 0
    assert "skipped 00004: " in capsys.readouterr().err
    local, on_ray = _rows(tmp_path / "local.csv"), _rows(tmp_path / "ray.csv")
    assert sorted(on_ray) == ["00000", "00001", "00002", "00003", "00004"]
    for case in ["00000", "00001", "00002", "00003"]:
        assert on_ray[case]["status"] == "ok" and on_ray[case]["label"] == local[case]["label"]
        assert float(on_ray[case]["probability"]) == pytest.approx(float(local[case]["probability"]), abs=1e-6)
    assert on_ray["00004"]["status"] == "failed" and on_ray["00004"]["probability"] == ""
    assert on_ray["00004"]["reason"] == local["00004"]["reason"] != ""
    assert on_ray["00004"]["MGMT_value"] == "1"


def test_the_studies_of_a_killed_worker_are_scored_again(cohort: Path, ray_cluster: Any) -> None:
    folders = {case: cohort / "train" / case for case in ["00000", "00001", "00002", "00003"]}
    predictor = Predictor.load()
    expected = {case: predictor.predict(load_study(folder), with_cam=False).result.probability
                for case, folder in folders.items()}
    killed: list[int] = []

    def kill_first(actors: list[Any]) -> None:  # with two studies queued on it, as a crash or the OOM killer would
        killed.append(ray_cluster.get(actors[0].ready.remote()))
        ray_cluster.kill(actors[0], no_restart=False)

    finished: list[CaseResult] = []
    results = score_on_ray(folders, predictor.source, 2, None, finished.append, on_started=kill_first)
    assert killed and len(finished) == 4
    assert {result.case: result.status for result in results} == dict.fromkeys(folders, "ok")
    for result in results:
        assert result.probability == pytest.approx(expected[result.case], abs=1e-6), result.case


def test_evaluate_on_ray_gives_the_local_figures(cohort: Path, ray_cluster: Any, tmp_path: Path, capsys) -> None:
    common = [str(cohort), "--labels", str(cohort / "train_labels.csv"), "--model", "weights", "--json",
              "--without", "T2w"]
    assert main(["evaluate", *common, "--out", str(tmp_path / "local")]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main(["evaluate", *common, "--engine", "ray", "--workers", "2", "--out", str(tmp_path / "ray")]) == 0
    on_ray = json.loads(capsys.readouterr().out)
    assert local["n"] == on_ray["n"] == 4  # the broken fifth case skipped by both
    for key in ("auc", "brier", "ece", "accuracy"):
        assert on_ray[key] == pytest.approx(local[key], abs=1e-6), key
    local_rows = _rows(tmp_path / "local" / "predictions.csv", "BraTS21ID")
    ray_rows = _rows(tmp_path / "ray" / "predictions.csv", "BraTS21ID")
    assert sorted(ray_rows) == sorted(local_rows) == ["0", "1", "2", "3"]
    for case, row in ray_rows.items():
        assert float(row["probability"]) == pytest.approx(float(local_rows[case]["probability"]), abs=1e-6)
