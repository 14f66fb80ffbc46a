"""Reading a study as a whole process: ``python -m core inspect --json`` against dcm2niix on the RSNA-size study.

Usage: python benchmarks/inspect_vs_dcm2niix.py [--repeats 5] [--dir DIR]

Both run as fresh processes, alternately (inspect, dcm2niix, inspect, ...), on the same study with the page cache
warm; dcm2niix writes uncompressed NIfTI into a temporary folder. Printed: per run and as medians, wall seconds and
CPU seconds (user + system, from each child's rusage: steadier than wall on a shared machine), the ratios
inspect / dcm2niix (target <= 1.5 in wall time), the load average, and where inspect's time goes (imports, headers,
volumes) measured in this process. dcm2niix is installed from Debian (``apt-get install -y dcm2niix``) when absent.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def ensure_dcm2niix() -> str:
    """The dcm2niix executable, installed from Debian first when it is not on PATH."""
    found = shutil.which("dcm2niix")
    if found:
        return found
    print("dcm2niix not found: apt-get install -y dcm2niix", flush=True)
    subprocess.run(["apt-get", "install", "-y", "dcm2niix"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("dcm2niix")
    if not found:
        raise SystemExit("dcm2niix is still not on PATH after apt-get install")
    return found


def timed(command: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one child process; it must succeed."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[0]} ... exited with {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def where_inspect_spends(study: Path) -> str:
    """Imports, headers and volumes of ``inspect``, measured in a fresh child (imports) and here (the rest)."""
    from ingest import ours_by_phase

    imports, _ = timed([sys.executable, "-c", "import core.cli.inspect, core.ingest, json"])
    headers, volumes = ours_by_phase(study)
    return f"imports {imports:.2f} s (a fresh process), headers {headers:.2f} s, volumes {volumes:.2f} s"


def main() -> None:
    from ingest import benchmark_setup, floor

    args, _, study = benchmark_setup(__doc__, "mgmt-bench-inspect-")
    converter = ensure_dcm2niix()
    floor(study)  # warm the page cache
    inspect = [sys.executable, "-m", "core", "inspect", str(study), "--json"]
    runs: dict[str, list[tuple[float, float]]] = {"inspect": [], "dcm2niix": []}
    for _ in range(args.repeats):
        runs["inspect"].append(timed(inspect))
        with tempfile.TemporaryDirectory(prefix="mgmt-dcm2niix-") as out:
            runs["dcm2niix"].append(timed([converter, "-z", "n", "-o", out, str(study)]))
    medians = {name: (statistics.median(w for w, _ in values), statistics.median(c for _, c in values))
               for name, values in runs.items()}
    print(f"study: {study} ({sum(1 for _ in study.rglob('*.dcm'))} files); repeats {args.repeats}, alternating; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for name, values in runs.items():
        print(f"{name:>8}: wall median {medians[name][0]:.2f} s (runs {', '.join(f'{w:.2f}' for w, _ in values)}); "
              f"CPU median {medians[name][1]:.2f} s")
    print(f"inspect / dcm2niix: wall {medians['inspect'][0] / medians['dcm2niix'][0]:.2f}x (target <= 1.5), "
          f"CPU {medians['inspect'][1] / medians['dcm2niix'][1]:.2f}x")
    print(f"inspect's time: {where_inspect_spends(study)}")


if __name__ == "__main__":
    main()
