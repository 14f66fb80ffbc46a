"""Cohort scoring throughput: the local engine with 1 and 2 workers, and Ray with 2 workers, on small studies.

Usage: python benchmarks/batch.py [--dir DIR] [--cases 40] [--db-url postgresql://...]

Writes (or reuses) DIR with ``--cases`` small synthetic studies, loads the model once and scores one study to warm
up, then scores every study with each engine and prints studies per second. For Ray the start-up (a local Ray with
2 CPUs, each worker importing torch and loading the model) is timed apart from the scoring. Also printed, for the
scaling estimate of a cluster: the bytes a study reads from storage, the time to read and decode it alone, and the
time to append one prediction-log row (DuckDB file; PostgreSQL too with ``--db-url``). Prints figures, asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.inference import Predictor  # noqa: E402
from core.ingest import load_study  # noqa: E402
from core.scoring import score_studies  # noqa: E402
from core.store import PredictionRecord, Store  # noqa: E402
from core.synth.cases import write_cohort  # noqa: E402


def cohort_folders(folder: Path, cases: int) -> dict[str, Path]:
    """The study folders of a synthetic cohort of ``cases`` studies under ``folder`` (written once)."""
    train = folder / "train"
    if not train.is_dir() or len(list(train.iterdir())) < cases:
        started = time.perf_counter()
        write_cohort(folder, cases, seed=3)
        print(f"wrote {cases} synthetic studies to {folder} in {time.perf_counter() - started:.1f} s")
    return {case.name: case for case in sorted(train.iterdir())[:cases]}


def rate(label: str, count: int, seconds: float) -> float:
    print(f"{label:<34} {count} studies in {seconds:6.1f} s = {count / seconds:5.2f} studies/s")
    return count / seconds


def log_latency(location: Path | str, rows: int = 50) -> float:
    """Median seconds to append one prediction-log row (one transaction each), as a replica does per prediction."""
    store = Store(location)
    record = PredictionRecord(channel="cli", user="benchmark", status="ok", study_hash="0" * 24, probability=0.5,
                              label="methylated", uncertainty_std=0.05, interval_low=0.4, interval_high=0.6,
                              model_repo="weights", model_revision="local", preprocessing_version="1",
                              timings_s={"total": 1.0}, error=None)
    times = []
    for _ in range(rows):
        started = time.perf_counter()
        store.log_prediction(record)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "mgmt-batch-bench")
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--db-url", help="also time log appends on this PostgreSQL database")
    args = parser.parse_args()
    folders = cohort_folders(args.dir, args.cases)
    print(f"machine: {os.cpu_count()} CPU(s) visible, load average {os.getloadavg()[0]:.1f} at start")

    started = time.perf_counter()
    predictor = Predictor.load()
    print(f"model load (driver): {time.perf_counter() - started:.1f} s")
    first = next(iter(folders.values()))
    predictor.predict(load_study(first), with_cam=False)  # warm-up

    study_bytes = statistics.mean(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
                                  for folder in folders.values())
    started = time.perf_counter()
    for folder in folders.values():
        load_study(folder)
    read_s = (time.perf_counter() - started) / len(folders)
    print(f"per study: {study_bytes / 1e6:.1f} MB read from storage; read + decode alone {read_s:.2f} s")

    for workers in (1, 2):
        started = time.perf_counter()
        results = score_studies(folders, predictor, engine="local", workers=workers, quiet=True)
        assert all(result.status == "ok" for result in results)
        rate(f"local engine, {workers} worker(s)", len(results), time.perf_counter() - started)

    from core.scoring.ray_cluster import score_on_ray, start_local

    started = time.perf_counter()
    ray = start_local(2)
    ready: list[float] = []
    try:
        results = score_on_ray(folders, predictor.source, 2, None, lambda result: None,
                               on_started=lambda actors: ready.append(time.perf_counter()))
    finally:
        ray.shutdown()
    finished = time.perf_counter()
    assert all(result.status == "ok" for result in results)
    print(f"ray start-up (cluster + 2 workers loading the model): {ready[0] - started:.1f} s")
    rate("ray engine, 2 workers (scoring)", len(results), finished - ready[0])
    rate("ray engine, 2 workers (with start-up)", len(results), finished - started)

    with tempfile.TemporaryDirectory() as folder:
        print(f"log append, DuckDB file: {log_latency(Path(folder) / 'mgmt.duckdb') * 1000:.1f} ms median")
    if args.db_url:
        print(f"log append, PostgreSQL: {log_latency(args.db_url) * 1000:.1f} ms median")


if __name__ == "__main__":
    main()
