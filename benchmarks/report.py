"""Report generation on an RSNA-size study: the PDF, the DICOM SR and SEG, beside the prediction they come from.

Usage: python benchmarks/report.py [--repeats 3] [--dir DIR] [--threads 2]

The study is the synthetic case the size of RSNA case 00000 (written once into --dir, or a temp folder). With the
model loaded (and the report writers warmed, as the service does while loading the model), each repeat predicts
the study through the Service with all reports, then times each document alone on that prediction (the SR makes
the SEG it references, so its time includes the SEG's). The
writers' first-use cost (imports, highdicom's tables of the standard) is timed in a fresh process.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
FIRST_USE = ("import time; started = time.perf_counter(); from core.report import load_report_writers; "
             "load_report_writers(); print(time.perf_counter() - started)")


def main() -> None:
    from ingest import benchmark_setup

    from core.config import get_settings
    from core.ingest.loader import read_study_and_identity
    from core.report import ReportRequest, make_documents
    from core.service import Service

    args, _, study_dir = benchmark_setup(__doc__, "mgmt-bench-report-")
    data = Path(tempfile.mkdtemp(prefix="mgmt-bench-report-data-"))
    settings = replace(get_settings(), data_dir=data, db_path=data / "mgmt.duckdb")
    service = Service(settings=settings, import_cohort=False).start(background=False)
    identity = read_study_and_identity(study_dir, study_dir.name, settings)[1]
    runs = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        service.predict(study_dir, log=False)
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        outcome = service.predict(study_dir, log=False, reports=ReportRequest())
        with_reports_s = time.perf_counter() - started
        alone = {}
        for kind in ("pdf", "sr", "seg"):
            started = time.perf_counter()
            make_documents(outcome.prediction, identity, ReportRequest((kind,)))
            alone[kind] = time.perf_counter() - started
        runs.append({"predict": plain_s, "predict + reports": with_reports_s,
                     "reports stage": outcome.report["timings_s"]["reports"], **alone})
        sizes = {kind: len(document.data) for kind, document in outcome.documents.made.items()}
    first_use = float(subprocess.run([sys.executable, "-c", FIRST_USE], cwd=ROOT, capture_output=True, text=True,
                                     check=True).stdout)
    print(f"study: {study_dir} ({sum(1 for _ in study_dir.rglob('*.dcm'))} files); threads {args.threads}; "
          f"repeats {args.repeats}")
    for key in runs[0]:
        print(f"{key:>18}: median {statistics.median(r[key] for r in runs):.3f} s "
              f"(runs: {', '.join(f'{r[key]:.3f}' for r in runs)})")
    seg_series = next(s for s in identity.series if s.sequence == "T1wCE")
    print(f"sizes: PDF {sizes['pdf'] / 1e3:.0f} kB, SR {sizes['sr'] / 1e3:.0f} kB, SEG {sizes['seg'] / 1e6:.1f} MB "
          f"({3 * len(seg_series.instance_uids)} frames of {seg_series.geometry.rows}x{seg_series.geometry.columns}); "
          f"SR evidence: {sum(len(s.instance_uids) for s in identity.series)} source instances")
    print(f"first use of the writers in a fresh process (imports + highdicom tables; the service pays it while "
          f"loading the model): {first_use:.2f} s")


if __name__ == "__main__":
    main()
