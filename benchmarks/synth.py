"""Synthetic cohort speed: seconds per case and bytes written, small and RSNA-size, DICOM and NIfTI.

Usage: python benchmarks/synth.py [--small 5] [--rsna 1] [--seed 0] [--dir DIR]

Writes ``--small`` small cases (the size tests use) and ``--rsna`` cases the size of RSNA case 00000
(FLAIR 400, T1w 33, T1wCE 129, T2w 408 slices of 512x512), one at a time, and prints per kind the median
and maximum seconds per case, the time spent on each stage of the first case, and the bytes written.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGES = {
    "anatomy (deform MNI152)": "deformed",
    "tumour": "tumour_labels",
    "render sequences": "render_all",
    "resample + bias + noise": "acquire",
    "write DICOM": "write_series",
    "write NIfTI (series and masks)": "_save_nifti",
}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def stage_seconds(profile: cProfile.Profile) -> dict[str, float]:
    """Cumulative seconds of each generator stage in one profiled case."""
    stats = pstats.Stats(profile).stats  # (file, line, name) -> (calls, primitive, tottime, cumtime, callers)
    found = {}
    for label, name in STAGES.items():
        found[label] = sum(entry[3] for key, entry in stats.items() if key[2] == name and "core/synth" in key[0])
    return found


def bench(out: Path, kind: str, cases: int, seed: int, fmt: str) -> None:
    from core.synth.cases import write_case

    seconds = []
    for index in range(cases):
        profile = cProfile.Profile() if index == 0 else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        write_case(out, index, seed=seed, size=kind, fmt=fmt)
        if profile:
            profile.disable()
            stages = stage_seconds(profile)
        seconds.append(time.perf_counter() - started)
    written = folder_bytes(out)
    print(f"{kind:5} {fmt:5}: {cases} case(s), median {statistics.median(seconds):.2f} s per case "
          f"(max {max(seconds):.2f} s; first case profiled), {written / cases / 1e6:.1f} MB per case")
    for label, value in stages.items():
        if value:
            print(f"        {label:32} {value:6.2f} s (first case, under the profiler)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=5, help="small cases to write")
    parser.add_argument("--rsna", type=int, default=1, help="RSNA-size cases to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, help="write here (kept) instead of a temporary folder")
    args = parser.parse_args()
    from core.synth.anatomy import template

    started = time.perf_counter()
    template(2.0), template(1.0)
    print(f"loading the MNI152 template (once per process): {time.perf_counter() - started:.2f} s")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.dir or Path(scratch)
        for kind, cases in (("small", args.small), ("rsna", args.rsna)):
            for fmt in ("dicom", "nifti"):
                if cases:
                    bench(root / f"{kind}-{fmt}", kind, cases, args.seed, fmt)


if __name__ == "__main__":
    main()
