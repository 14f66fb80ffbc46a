"""Prediction speed and memory on an RSNA-size study: per stage, with and without Grad-CAM, against the floor.

Usage: python benchmarks/predict.py [--repeats 3] [--dir DIR] [--threads 2]

The study is the synthetic case the size of RSNA case 00000 (written once into --dir, or a temp folder).
Times, in one run and interleaved: the floor (pydicom reading and decoding every file, nothing else), and
study folder -> probability (+ Grad-CAM) with the model already loaded, per stage. Peak memory is the max
RSS of a fresh `python -m core predict` process on the same study (imports and model included).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def peak_rss_mb(study: Path, extra: list[str]) -> float:
    """Max RSS of a child running ``python -m core predict`` (MB), from that child's own rusage."""
    child = subprocess.Popen([sys.executable, "-m", "core", "predict", str(study), "--json", *extra], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"predict exited with {child.returncode}")
    return usage.ru_maxrss / 1024


def main() -> None:
    import torch
    from ingest import benchmark_setup, floor

    from core.inference import Predictor
    from core.ingest import load_study

    args, _, study_dir = benchmark_setup(__doc__, "mgmt-bench-predict-")
    predictor = Predictor.load()
    floor(study_dir)  # warm the page cache
    variants = {"with Grad-CAM": (True, True), "without Grad-CAM": (False, True),
                "without Grad-CAM or contributions": (False, False)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    floors = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        floor(study_dir)
        floors.append(time.perf_counter() - started)
        for name, (with_cam, with_contributions) in variants.items():
            started = time.perf_counter()
            study = load_study(study_dir)
            read = time.perf_counter() - started
            prediction = predictor.predict(study, with_cam=with_cam, with_contributions=with_contributions)
            total = time.perf_counter() - started
            runs[name].append({"read": read, **dict(prediction.timings), "total": total})
    floor_s = statistics.median(floors)
    print(f"study: {study_dir} ({sum(1 for _ in study_dir.rglob('*.dcm'))} files); threads {args.threads}; "
          f"repeats {args.repeats}")
    print(f"floor (pydicom read + decode every file): median {floor_s:.2f} s")
    for name, values in runs.items():
        stages = {key: statistics.median(v[key] for v in values) for key in values[0]}
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) + " s")
        totals = ", ".join(f"{v['total']:.2f}" for v in values)
        print(f"  total {stages['total']:.2f} s (target <= 6), {stages['total'] / floor_s:.1f}x the floor "
              f"(target <= 2x); runs {totals}")
    print(f"peak memory of `python -m core predict` (model load and imports included): "
          f"{peak_rss_mb(study_dir, []):.0f} MB with Grad-CAM, {peak_rss_mb(study_dir, ['--no-cam']):.0f} MB "
          "without (target <= 2500)")
    x = torch.zeros(1, 4, *predictor.config.preprocessing.input_shape)
    with torch.no_grad():
        predictor.model.outputs(x)
        started = time.perf_counter()
        for _ in range(5):
            predictor.model.outputs(x)
    print(f"forward pass (segmentation + logit) at {predictor.config.preprocessing.input_shape}: "
          f"{(time.perf_counter() - started) / 5:.3f} s (target <= 0.25); weights "
          f"{(ROOT / 'weights' / 'model.safetensors').stat().st_size / 1e6:.1f} MB (target <= 32 MB)")


if __name__ == "__main__":
    main()
