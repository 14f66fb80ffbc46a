"""The attackers of ``benchmarks/load.py --hostile``: stalled and trickling uploads, bombs, beside valid clients.

Every attacker runs in a bounded loop against the app on 127.0.0.1 until the valid clients are done (or its count
is reached), and records the status of each answer it got (0: the connection failed or was dropped unanswered).
  stalled   headers of a 500 MB multipart upload, then nothing; reconnects once dropped (408)
  trickle   the same, then one byte a second (slower than MGMT_UPLOAD_MIN_RATE_KB)
  gz bomb   four .nii.gz of 2048 x 2048 x 71 float32 (~25 MB sent, 4.8 GB of voxels: the issue's upload)
  zip bomb  one .zip of 3 GiB of zeros deflated (~3 MB sent)
  widest    the widest gzipped NIfTI study the defaults accept (2 x 2048 x 2048 x 32 float32, ~6 MB, 1 GiB of voxels)
"""

from __future__ import annotations

import socket
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
from urllib3 import encode_multipart_formdata

BOUNDARY = "hostile-boundary"
MAX_ATTEMPTS = 200
"""Attempts of one attacker at most (the loops stop by themselves)."""


@dataclass
class Attack:
    """One kind of attacker on ``threads`` threads, and the statuses it got."""

    name: str
    threads: int
    attempt: Callable[[str], int]
    statuses: Counter = field(default_factory=Counter)

    def run(self, url: str, done: threading.Event) -> list[threading.Thread]:
        lock = threading.Lock()

        def loop() -> None:
            for _ in range(MAX_ATTEMPTS):
                if done.is_set():
                    return
                status = self.attempt(url)
                with lock:
                    self.statuses[status] += 1

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        return threads


def _raw_upload(url: str, trickle: bool) -> int:
    """Send the headers of a 500 MB upload, then nothing (or a byte a second); the status the server answered."""
    address = urlsplit(url)
    head = (f"POST /api/predict HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 500000000\r\n\r\n"
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"study\"; filename=\"s.zip\"\r\n\r\n").encode()
    try:
        with socket.create_connection((address.hostname, address.port), timeout=1 if trickle else 120) as sock:
            sock.sendall(head)
            answer = b""
            for _ in range(600):
                try:
                    answer += sock.recv(4096)
                    break
                except TimeoutError:
                    sock.sendall(b"\0")  # a trickle: one byte a second
            while answer and not answer.endswith(b"}") and (more := sock.recv(4096)):
                answer += more
    except OSError:
        return 0
    return int(answer.split()[1]) if answer.startswith(b"HTTP/") else 0


def _post(url: str, body: bytes, content_type: str) -> int:
    try:
        return requests.post(f"{url}/api/predict", data=body, headers={"Content-Type": content_type},
                             timeout=600).status_code
    except requests.RequestException:
        return 0


def zip_bomb(folder: Path, gigabytes: int = 3) -> bytes:
    """A .zip of one entry of ``gigabytes`` GiB of zeros, deflated; written once under ``folder``."""
    path = folder / f"zip-bomb-{gigabytes}g.zip"
    if not path.exists():
        zeros = bytes(64 * 1024**2)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
                archive.open("case/FLAIR/Image-1.dcm", "w", force_zip64=True) as entry:
            for _ in range(gigabytes * 16):
                entry.write(zeros)
    return path.read_bytes()


def nifti_upload(folder: Path) -> tuple[bytes, str]:
    """The files of a NIfTI study folder as one multipart body."""
    fields = [("files", (path.name, path.read_bytes(), "application/gzip")) for path in sorted(folder.iterdir())]
    return encode_multipart_formdata(fields)


def attacks(base: Path) -> list[Attack]:
    """The attackers, their uploads made once under ``base``."""
    from tests.ingest.nifti_bombs import write_nifti_study

    gz_folder, widest_folder = base / "gz-bomb", base / "widest"
    if not gz_folder.exists():
        write_nifti_study(gz_folder, {name: (2048, 2048, 71) for name in ("FLAIR", "T1w", "T1wCE", "T2w")})
    if not widest_folder.exists():
        write_nifti_study(widest_folder, {"FLAIR": (2048, 2048, 32), "T2w": (2048, 2048, 32)})
    gz_body, gz_type = nifti_upload(gz_folder)
    widest_body, widest_type = nifti_upload(widest_folder)
    zip_body, zip_type = encode_multipart_formdata([("study", ("bomb.zip", zip_bomb(base), "application/zip"))])
    print(f"hostile uploads: gz bomb {len(gz_body) / 1e6:.1f} MB, zip bomb {len(zip_body) / 1e6:.1f} MB, widest "
          f"accepted NIfTI {len(widest_body) / 1e6:.1f} MB on the wire")
    return [Attack("stalled", 12, lambda url: _raw_upload(url, trickle=False)),
            Attack("trickle", 2, lambda url: _raw_upload(url, trickle=True)),
            Attack("gz bomb", 1, lambda url: _post(url, gz_body, gz_type)),
            Attack("zip bomb", 1, lambda url: _post(url, zip_body, zip_type)),
            Attack("widest", 1, lambda url: _post(url, widest_body, widest_type))]


def print_attacks(found: list[Attack], seconds: float) -> None:
    print(f"{'attacker':<10} {'threads':>7} {'attempts':>8}  answers (status: count) over {seconds:.0f} s")
    for attack in found:
        answers = ", ".join(f"{status}: {count}" for status, count in sorted(attack.statuses.items()))
        print(f"{attack.name:<10} {attack.threads:>7} {sum(attack.statuses.values()):>8}  {answers}")


def wait_for(threads: list[threading.Thread], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
