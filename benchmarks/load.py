"""The REST API under load: concurrent predictions against a real ``streamlit run app.py`` on 127.0.0.1.

Usage: python benchmarks/load.py [--dir DIR] [--small N] [--env NAME=VALUE ...] [--only small|rsna] [--form files]
       python benchmarks/load.py --hostile [--dir DIR] [--env NAME=VALUE ...]

Scenarios, one after the other on one app (model loaded, one warm-up prediction first):
  small x1   1 client x N small synthetic studies (the baseline of the next)
  small x8   8 clients x 5 small studies each
  rsna x1    1 client x 2 RSNA-size studies (FLAIR 400, T1w 33, T1wCE 129, T2w 408 slices of 512x512, ~500 MB)
  rsna x4    4 clients x 1 RSNA-size study
The RSNA-size study is sent as one stored .zip (made once), or with ``--form files`` as its ~1,000 files with
relative paths; before the scenarios, one upload of each form is timed side by side. Per scenario: requests
succeeded, refused (503), other failures; p50/p95 latency; throughput (studies/s) and its ratio to one client's; the
app's peak memory (VmHWM of its process from /proc, reset before each scenario when the kernel allows, plus any child
processes); the server's median time per stage and the app's CPU seconds per study. Prints figures, asserts nothing.
Targets (the issue): no failures but deliberate 503s; 4 clients at least 0.9x one client's throughput; peak < 4 GB.

``--hostile``: 2 valid clients x 5 small studies alone, then again beside the attackers of benchmarks/hostile_mix.py
(12 stalled uploads, 2 trickling ones, the gzipped-NIfTI bomb, a 3 GiB zip bomb, the widest NIfTI study the
defaults accept), and that widest study alone: throughput, the app's peak memory, each attacker's answers, and the
log's rows by status. Target: valid clients all 200 beside the attackers; peak within the admission budget.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests
from urllib3 import encode_multipart_formdata

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

TIMEOUT_S = 600


@dataclass(frozen=True)
class Upload:
    """A multipart body encoded once and sent as it is by every request, so the clients (in this process, on the
    same cores as the app) do not spend their time re-encoding hundreds of MB per request."""

    body: bytes
    content_type: str

    @classmethod
    def of(cls, fields: list) -> Upload:
        return cls(*encode_multipart_formdata(fields))


@dataclass(frozen=True)
class Scenario:
    name: str
    clients: int
    per_client: int
    upload: Upload
    baseline: str | None  # the one-client scenario its throughput is compared with


@dataclass
class Result:
    latencies: list[float]
    refused: int
    failures: list[str]
    wall_s: float
    peak_mb: float
    cpu_s: float  # the app's CPU time (user + system, children included) over the scenario
    stages: list[dict[str, float]]  # the server's timings_s of each success, plus "upload": latency - total

    @property
    def succeeded(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.succeeded / self.wall_s


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """The process's children, grandchildren, ... (from /proc/<pid>/task/*/children)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            for child in map(int, children.read_text().split()):
                found += [child, *descendants(child)]
        except OSError:  # the task ended meanwhile
            continue
    return found


class PeakMemory:
    """The app's peak memory over a block: its VmHWM (reset at the start when the kernel allows; ``reset`` says
    whether it was) and the largest sum of RSS over the app and its children, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.sampled_kb, self._done = pid, 0, threading.Event()
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.reset = True
        except OSError:
            self.reset = False

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.05):
            total = sum(status_kb(pid, "VmRSS") for pid in [self.pid, *descendants(self.pid)])
            self.sampled_kb = max(self.sampled_kb, total)

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()
        children = sum(status_kb(pid, "VmHWM") for pid in descendants(self.pid))
        self.peak_mb = max(self.sampled_kb, status_kb(self.pid, "VmHWM") + children) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its waited-for children, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def post(url: str, upload: Upload) -> tuple[int, float, str, dict[str, float]]:
    """Status, seconds from sending to the full answer, the error text (if any), the server's stage timings."""
    started = time.perf_counter()
    try:
        answer = requests.post(f"{url}/api/predict", data=upload.body, timeout=TIMEOUT_S,
                               headers={"Content-Type": upload.content_type})
    except requests.RequestException as err:
        return 0, time.perf_counter() - started, f"{type(err).__name__}: {err}"[:200], {}
    seconds = time.perf_counter() - started
    if not answer.ok:
        return answer.status_code, seconds, answer.text[:200], {}
    timings = answer.json()["timings_s"]
    return 200, seconds, "", {**timings, "upload": seconds - timings["total"]}


def run(url: str, pid: int, scenario: Scenario) -> Result:
    latencies: list[float] = []
    stages: list[dict[str, float]] = []
    refused, failures, lock = [0], [], threading.Lock()
    start = threading.Barrier(scenario.clients)

    def client() -> None:
        start.wait()
        for _ in range(scenario.per_client):
            code, seconds, error, timings = post(url, scenario.upload)
            with lock:
                if code == 200:
                    latencies.append(seconds)
                    stages.append(timings)
                elif code == 503:
                    refused[0] += 1
                else:
                    failures.append(f"{code}: {error}")

    with PeakMemory(pid) as memory:
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(scenario.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before
    if not memory.reset:
        print(f"  {scenario.name}: VmHWM could not be reset; its peak memory counts from the app's start")
    return Result(latencies, refused[0], failures, wall, memory.peak_mb, cpu, stages)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def print_table(scenarios: list[Scenario], results: dict[str, Result]) -> None:
    print(f"{'scenario':<10} {'clients x studies':>17} {'ok':>4} {'503':>4} {'other':>5} {'p50 s':>6} {'p95 s':>6} "
          f"{'studies/s':>9} {'vs 1 client':>11} {'peak MB':>8}")
    for scenario in scenarios:
        result = results[scenario.name]
        ratio = (f"{result.throughput / results[scenario.baseline].throughput:.2f}x" if scenario.baseline
                 else "(baseline)")
        print(f"{scenario.name:<10} {f'{scenario.clients} x {scenario.per_client}':>17} {result.succeeded:>4} "
              f"{result.refused:>4} {len(result.failures):>5} {percentile(result.latencies, 50):>6.2f} "
              f"{percentile(result.latencies, 95):>6.2f} {result.throughput:>9.3f} {ratio:>11} "
              f"{result.peak_mb:>8.0f}")
        for failure in result.failures[:3]:
            print(f"    failure {failure}")
    stages = ("upload", "staging", "queued", "read", "resample", "model_and_cam", "total")
    print(f"\nmedian seconds per stage on the server (upload: the client's latency minus the server's total), and "
          f"the app's CPU seconds per study\n{'scenario':<10} " + " ".join(f"{name:>13}" for name in stages)
          + f" {'CPU s/study':>11}")
    for scenario in scenarios:
        result = results[scenario.name]
        medians = [statistics.median(t.get(name, 0.0) for t in result.stages) if result.stages else float("nan")
                   for name in stages]
        print(f"{scenario.name:<10} " + " ".join(f"{value:>13.2f}" for value in medians)
              + f" {result.cpu_s / max(result.succeeded, 1):>11.2f}")


def study_folders(base: Path) -> tuple[Path, Path]:
    """A small synthetic study and the RSNA-size one (written under ``base`` unless already there)."""
    from ingest import write_rsna_size_study

    from core.synth.cases import write_case

    rsna = base / "train" / "00000"
    if not (rsna / "T2w").exists():
        started = time.perf_counter()
        write_rsna_size_study(base)
        print(f"wrote the RSNA-size study in {time.perf_counter() - started:.0f} s: {rsna}")
    small_root = base / "small"
    small = small_root / "train" / "00003"
    if not (small / "T2w").exists():
        write_case(small_root, 3, seed=5)
    return small, rsna


def compare_upload_forms(url: str, forms: dict[str, Upload], rsna: Path) -> None:
    """One RSNA-size prediction sent as a .zip, one as its files, timed (median of two each, interleaved)."""
    times: dict[str, list[float]] = {name: [] for name in forms}
    for _ in range(2):
        for name, upload in forms.items():
            code, seconds, error, _ = post(url, upload)
            if code != 200:
                print(f"  {name} upload failed: {code} {error}")
            times[name].append(seconds)
    zip_s, files_s = (statistics.median(times[name]) for name in ("zip", "files"))
    print(f"RSNA-size upload, one client, request to answer (median of 2): .zip {zip_s:.2f} s, "
          f"{sum(1 for p in rsna.rglob('*') if p.is_file())} files {files_s:.2f} s -> "
          f"{'zip' if zip_s < files_s else 'files'} faster by {abs(files_s - zip_s):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, help="keep the studies here (written once, reused afterwards)")
    parser.add_argument("--small", type=int, default=10, metavar="N", help="studies of the one-client small run")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the app, e.g. MGMT_MAX_CONCURRENT=1 (repeatable)")
    parser.add_argument("--only", choices=("small", "rsna"), help="run only the scenarios of that study size "
                        "(and, for rsna, the comparison of upload forms)")
    parser.add_argument("--form", choices=("zip", "files"), default="zip", help="how the scenarios send the "
                        "RSNA-size study (default: one .zip)")
    parser.add_argument("--hostile", action="store_true", help="valid clients beside stalled uploads and bombs")
    args = parser.parse_args()
    if args.hostile:
        hostile(args)
        return
    from tests.api.uploads import study_files, study_zip
    from tests.app_server import running_app

    small, rsna = study_folders(args.dir or Path(tempfile.mkdtemp(prefix="mgmt-bench-load-")))
    started = time.perf_counter()
    small_zip, rsna_zip = study_zip(small), study_zip(rsna)
    print(f"zipped the studies in {time.perf_counter() - started:.1f} s: small {len(small_zip) / 1e6:.1f} MB, "
          f"RSNA-size {len(rsna_zip) / 1e6:.0f} MB")

    small_upload = Upload.of([("study", ("study.zip", small_zip, "application/zip"))])
    rsna_forms = {"zip": Upload.of([("study", ("study.zip", rsna_zip, "application/zip"))]),
                  "files": Upload.of(study_files(rsna))}
    rsna_upload = rsna_forms[args.form]

    scenarios = [Scenario("small x1", 1, args.small, small_upload, None),
                 Scenario("small x8", 8, 5, small_upload, "small x1"),
                 Scenario("rsna x1", 1, 2, rsna_upload, None),
                 Scenario("rsna x4", 4, 1, rsna_upload, "rsna x1")]
    scenarios = [scenario for scenario in scenarios if scenario.name.startswith(args.only or "")]
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="mgmt-load-app-") as folder, running_app(Path(folder), env) as app:
        health = app.wait_for_model()
        gate = health["admission"]
        print(f"app pid {app.pid} at {app.url}; model {health['model']['state']}; admission: {gate['slots']} "
              f"slot(s), queue {gate['queue_size']}; env {env or '(defaults)'}; RSNA-size study sent as {args.form}")
        post(app.url, small_upload)  # warm-up: the first prediction pays for lazy imports
        if args.only != "small":
            compare_upload_forms(app.url, rsna_forms, rsna)
        results: dict[str, Result] = {}
        for scenario in scenarios:
            results[scenario.name] = run(app.url, app.pid, scenario)
            print(f"  {scenario.name}: done in {results[scenario.name].wall_s:.1f} s; load average "
                  f"{os.getloadavg()[0]:.1f} (other processes on the machine slow every figure down)")
        gate = requests.get(f"{app.url}/api/health", timeout=30).json()["admission"]
    print_table(scenarios, results)
    print(f"refused in all (the gate's count): {gate['refused']}. Targets: no failures but deliberate 503s; "
          "rsna x4 >= 0.9x; peak < 4096 MB.")


def hostile(args: argparse.Namespace) -> None:
    """Valid clients alone, then beside the attackers, then the widest accepted upload alone (see the docstring)."""
    from hostile_mix import attacks, print_attacks, wait_for

    from core.synth.cases import write_case
    from tests.api.uploads import study_zip
    from tests.app_server import running_app

    base = args.dir or Path(tempfile.mkdtemp(prefix="mgmt-bench-hostile-"))
    small = base / "small" / "train" / "00003"
    if not (small / "T2w").exists():
        write_case(base / "small", 3, seed=5)
    attackers = attacks(base)
    small_upload = Upload.of([("study", ("study.zip", study_zip(small), "application/zip"))])
    alone = Scenario("valid x2", 2, 5, small_upload, None)
    mixed = Scenario("valid x2 + hostile", 2, 5, small_upload, alone.name)
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="mgmt-load-app-") as folder, running_app(Path(folder), env) as app:
        health = app.wait_for_model()
        print(f"app pid {app.pid}; admission {health['admission']}; limits {health['limits']}")
        post(app.url, small_upload)  # warm-up
        results = {alone.name: run(app.url, app.pid, alone)}
        done, started = threading.Event(), time.perf_counter()
        threads = [thread for attack in attackers for thread in attack.run(app.url, done)]
        time.sleep(2)  # the stalled uploads connect first
        results[mixed.name] = run(app.url, app.pid, mixed)
        done.set()
        wait_for(threads, timeout_s=float(health["limits"]["upload_idle_s"]) * 4 + 120)
        attacked_s = time.perf_counter() - started
        widest = next(attack for attack in attackers if attack.name == "widest")
        with PeakMemory(app.pid) as memory:
            status = widest.attempt(app.url)
        rows = requests.get(f"{app.url}/api/predictions", params={"limit": 1000}, timeout=60).json()
        gate = requests.get(f"{app.url}/api/health", timeout=30).json()["admission"]
    mixed_result = results[mixed.name]
    print_table([alone, mixed], results)
    print_attacks(attackers, attacked_s)
    print(f"widest accepted NIfTI study alone: status {status}, app peak {memory.peak_mb:.0f} MB")
    print(f"log rows by status: {dict(Counter(row['status'] for row in rows))}; busy refusals (health): "
          f"{gate['refused']}; valid beside attackers: {mixed_result.succeeded} of 10 ok")


if __name__ == "__main__":
    main()
