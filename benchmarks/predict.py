"""Prediction speed and memory on an RSNA-size study: per stage, with and without Grad-CAM, against the floor.

Usage: python benchmarks/predict.py [--repeats 3] [--dir DIR] [--threads 2]

The study is the synthetic case the size of RSNA case 00000 (written once into --dir, or a temp folder).
Times, in one run and interleaved: the floor (pydicom reading and decoding every file, nothing else), and
study folder -> probability (+ Grad-CAM) with the model already loaded, per stage; then the same with the Predict
page's viewer volumes (``display``: the four sequences at the study's own resolution, target <= 0.3 s; of it, the
segmentation overlay taken from upsampled probabilities) and the bytes of the viewer's figures sent to the browser.
Peak memory is the max
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
    variants = {"with Grad-CAM": (True, True, False), "without Grad-CAM": (False, True, False),
                "without Grad-CAM or contributions": (False, False, False),
                "with Grad-CAM and the viewer": (True, True, True)}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    floors, floor_cpus = [], []
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        started, cpu = time.perf_counter(), time.process_time()
        floor(study_dir)
        floors.append(time.perf_counter() - started)
        floor_cpus.append(time.process_time() - cpu)
        for name, (with_cam, with_contributions, with_display) in variants.items():
            started, cpu = time.perf_counter(), time.process_time()
            study = load_study(study_dir)
            read = time.perf_counter() - started
            prediction = predictor.predict(study, with_cam=with_cam, with_contributions=with_contributions,
                                           with_display=with_display)
            total = time.perf_counter() - started
            cpus[name].append(time.process_time() - cpu)
            runs[name].append({"read": read, **dict(prediction.result.timings), "total": total})
    floor_s, floor_cpu = statistics.median(floors), statistics.median(floor_cpus)
    print(f"study: {study_dir} ({sum(1 for _ in study_dir.rglob('*.dcm'))} files); threads {args.threads}; "
          f"repeats {args.repeats}")
    print(f"floor (pydicom read + decode every file): median {floor_s:.2f} s wall, {floor_cpu:.2f} s CPU; load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, values in runs.items():
        stages = {key: statistics.median(v[key] for v in values) for key in values[0]}
        print(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()) + " s")
        totals = ", ".join(f"{v['total']:.2f}" for v in values)
        cpu = statistics.median(cpus[name])
        print(f"  total {stages['total']:.2f} s (target <= 6), {stages['total'] / floor_s:.1f}x the floor "
              f"(target <= 2x); runs {totals}; CPU {cpu:.2f} s = {cpu / floor_cpu:.1f}x the floor's CPU (both "
              "threads counted)")
    display_step(study, prediction, predictor, args.repeats * 3)
    viewer_payload(prediction)
    print(f"peak memory of `python -m core predict` (model load and imports included): "
          f"{peak_rss_mb(study_dir, []):.0f} MB with Grad-CAM, {peak_rss_mb(study_dir, ['--no-cam']):.0f} MB "
          "without (target <= 2000)")
    x = torch.zeros(1, 4, *predictor.config.preprocessing.input_shape)
    with torch.no_grad():
        predictor.model.outputs(x)
        started = time.perf_counter()
        for _ in range(5):
            predictor.model.outputs(x)
    print(f"forward pass (segmentation + logit) at {predictor.config.preprocessing.input_shape}: "
          f"{(time.perf_counter() - started) / 5:.3f} s (target <= 0.25); weights "
          f"{(ROOT / 'weights' / 'model.safetensors').stat().st_size / 1e6:.1f} MB (target <= 32 MB)")


def display_step(study, prediction, predictor, repeats: int) -> None:
    """The viewer's volumes alone, again and again on the same study: wall and CPU seconds (the step uses two
    threads, so CPU can exceed wall); then the segmentation overlay's share (probabilities upsampled, label taken)."""
    from core.preprocess.display import display_grid, display_volumes
    from core.preprocess.overlays import TumourProbabilities, labels_on_grid

    prepared = prediction.artefacts.prepared
    assessed = predictor.assess(prepared, prediction.result.missing)
    tumour = TumourProbabilities(assessed.segmentation_probabilities, predictor.config.segmentation_labels)
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        display_volumes(study, prepared, prediction.artefacts.cam, tumour)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    print(f"display step alone, {repeats} runs: wall median {statistics.median(walls):.3f} s, min {min(walls):.3f} s "
          f"(target <= 0.3); CPU median {statistics.median(cpus):.3f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    grid, labels_s = display_grid(study, prepared), []
    for _ in range(repeats):
        started = time.perf_counter()
        labels_on_grid(tumour, prepared.grid, grid)
        labels_s.append(time.perf_counter() - started)
    print(f"  of which the segmentation overlay (probabilities upsampled to {' x '.join(map(str, grid.shape))}, then "
          f"the label): median {statistics.median(labels_s):.3f} s")


def viewer_payload(prediction) -> None:
    """The viewer's volumes, and the JSON bytes of its figures (what Streamlit sends the browser on each rerun)."""
    import plotly.io

    from core.figures.viewer import linked_figure

    display, prepared = prediction.artefacts.viewer, prediction.artefacts.prepared
    print(f"viewer volumes: grid {' x '.join(map(str, display.grid.shape))} of {display.spacing_mm:.2f} mm, "
          f"{display.nbytes / 1e6:.1f} MB in memory (uint8); the model grid: "
          f"{' x '.join(map(str, prepared.grid.shape))} of {prepared.grid.affine[0, 0]:.2f} mm")
    cursor = display.voxel_of(display.start_mm)
    for label, cam_opacity, label_opacity in (("Grad-CAM and segmentation", 0.45, 0.4), ("no overlays", None, None)):
        started = time.perf_counter()
        size = len(plotly.io.to_json(linked_figure(display, cursor, cam_opacity, label_opacity), validate=False))
        print(f"figure payload ({label}; one figure, three views x 4 sequences, sent again on each click): "
              f"{size / 1e3:.0f} kB, {size / 3e3:.0f} kB per view; built and serialised in "
              f"{time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
