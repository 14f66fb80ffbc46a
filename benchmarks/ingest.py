"""Ingest speed on an RSNA-size study: ours vs MONAI's stock DICOM path vs the pydicom decode floor.

Usage: python benchmarks/ingest.py [--repeats 3] [--dir DIR] [--threads 2]

Writes (or reuses, with --dir) a study the size of RSNA case 00000 (FLAIR 400, T1w 33, T1wCE 129, T2w 408
slices of 512x512, from core.synth), then times, interleaved in one run, the median of:
  ours   core.ingest.load_study (find files, group series, order by position, decode, rescale, affine)
  monai  LoadImage(PydicomReader) + EnsureChannelFirst + Orientation("RAS"), one call per series folder
  floor  pydicom.dcmread + pixel_array of every file, nothing else
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RSNA_SLICES = {"FLAIR": 400, "T1w": 33, "T1wCE": 129, "T2w": 408}


def write_rsna_size_study(root: Path) -> Path:
    """One synthetic case the size of RSNA case 00000 (core.synth, seed 0); returns its study folder."""
    from core.synth.cases import write_case

    truth = write_case(root, 0, seed=0, size="rsna")
    return root / "train" / truth.case_id


def ours(root: Path) -> None:
    from core.ingest import load_study

    load_study(root)


def ours_by_phase(root: Path) -> tuple[float, float]:
    """Seconds spent reading headers (finding and grouping files) and building the four volumes."""
    from core.config import get_settings
    from core.ingest.dicom_files import scan_folder
    from core.ingest.dicom_volume import load_series_volume
    from core.ingest.gc_pause import collector_paused

    with collector_paused():
        started = time.perf_counter()
        scan = scan_folder(root)
        headers = time.perf_counter() - started
        started = time.perf_counter()
        for series in scan.series:
            load_series_volume(series, get_settings())
    return headers, time.perf_counter() - started


def fresh_memory_touch(n_bytes: int) -> float:
    """Seconds to allocate and fill ``n_bytes`` of new memory: what the volumes cost beyond the CPU work."""
    import numpy as np

    started = time.perf_counter()
    np.ones(n_bytes // 2, dtype=np.uint16)
    return time.perf_counter() - started


def monai_stock(root: Path) -> None:
    from monai.transforms import Compose, EnsureChannelFirst, LoadImage, Orientation

    chain = Compose([LoadImage(reader="PydicomReader", image_only=True), EnsureChannelFirst(),
                     Orientation(axcodes="RAS")])
    for sequence in RSNA_SLICES:
        chain(str(root / sequence))


def floor(root: Path) -> None:
    import pydicom

    for path in sorted(root.rglob("*.dcm")):
        pydicom.dcmread(path).pixel_array  # noqa: B018 (decoding is the point)


def benchmark_setup(doc: str, prefix: str) -> tuple[argparse.Namespace, Path, Path]:
    """Parse --repeats/--dir/--threads, set the thread count, and make sure the RSNA-size study exists.

    Returns the arguments, the base folder (the cohort) and the study folder.
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="keep the study here (written once, reused afterwards)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    base = args.dir or Path(tempfile.mkdtemp(prefix=prefix))
    root = base / "train" / "00000"
    if not (root / "T2w").exists():
        started = time.perf_counter()
        write_rsna_size_study(base)
        print(f"wrote RSNA-size study in {time.perf_counter() - started:.1f} s: {root}")
    return args, base, root


def main() -> None:
    args, base, root = benchmark_setup(__doc__, "mgmt-bench-ingest-")
    files = list(root.rglob("*.dcm"))
    size = sum(p.stat().st_size for p in files)
    print(f"study: {len(files)} files, {size / 1e6:.0f} MB; cpu threads: {args.threads}; repeats: {args.repeats}")
    floor(root)  # warm the page cache once, so every contender reads from memory
    times: dict[str, list[float]] = {"ours": [], "monai": [], "floor": []}
    for _ in range(args.repeats):
        for name, job in (("floor", floor), ("ours", ours), ("monai", monai_stock)):
            started = time.perf_counter()
            job(root)
            times[name].append(time.perf_counter() - started)
    median = {name: statistics.median(values) for name, values in times.items()}
    for name, value in median.items():
        print(f"{name:>6}: median {value:6.2f} s  (runs: {', '.join(f'{v:.2f}' for v in times[name])})")
    phases = [ours_by_phase(root) for _ in range(args.repeats)]
    touch = [fresh_memory_touch(2 * sum(RSNA_SLICES.values()) * 512 * 512) for _ in range(args.repeats)]
    print(f"  ours by phase: headers {statistics.median(p[0] for p in phases):.2f} s, "
          f"volumes {statistics.median(p[1] for p in phases):.2f} s (runs: {', '.join(f'{p[1]:.2f}' for p in phases)})")
    print(f"  allocating and filling {sum(RSNA_SLICES.values()) * 512 * 512 * 2 / 1e6:.0f} MB of fresh memory "
          f"(the volumes' size): runs {', '.join(f'{t:.2f}' for t in touch)} s")
    print(f"ours / monai = {median['ours'] / median['monai']:.2f}  (target <= 1.0)")
    print(f"ours / floor = {median['ours'] / median['floor']:.2f}  (target <= 1.5)")
    if not args.dir:
        import shutil

        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
