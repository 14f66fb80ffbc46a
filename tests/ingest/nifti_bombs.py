"""Gzipped NIfTI studies that are small on the wire and large in memory (striped voxels compress ~1000:1), and a
child process that stages and reads one as the REST API would, reporting its peak memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Mapping
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
BRATS_ENDINGS = {"FLAIR": "flair", "T1w": "t1", "T1wCE": "t1ce", "T2w": "t2"}
SLAB_BYTES = 64 * 1024**2


def write_striped_nifti(path: Path, shape: tuple[int, int, int], dtype: str, value: float = 100.0) -> int:
    """A .nii.gz of ``shape`` whose voxels alternate ``value`` and twice it (1 mm voxels), written slab by slab at
    gzip level 1; its bytes on disk."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.dtype(dtype))
    header.set_zooms((1.0, 1.0, 1.0))
    header.set_sform(np.eye(4), code=1)
    header.set_qform(np.eye(4), code=1)
    header["vox_offset"] = 352
    head = header.binaryblock + b"\0" * (int(header["vox_offset"]) - len(header.binaryblock))
    slab_array = np.full(max(2, SLAB_BYTES // np.dtype(dtype).itemsize), value, dtype=dtype)
    slab_array[1::2] = 2 * value  # two values: not a blank series, and still ~1000:1 under gzip
    slab = slab_array.tobytes()
    total = int(np.prod(shape)) * np.dtype(dtype).itemsize
    packer = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    with open(path, "wb") as out:
        out.write(packer.compress(head))
        for start in range(0, total, len(slab)):
            out.write(packer.compress(slab[: min(len(slab), total - start)]))
        out.write(packer.flush())
    return path.stat().st_size


def write_nifti_study(folder: Path, shapes: Mapping[str, tuple[int, int, int]], dtype: str = "float32") -> int:
    """BraTS-named ``case_<seq>.nii.gz`` files of the given shapes in ``folder``; their bytes on disk in all."""
    folder.mkdir(parents=True, exist_ok=True)
    return sum(write_striped_nifti(folder / f"case_{BRATS_ENDINGS[name]}.nii.gz", shape, dtype)
               for name, shape in shapes.items())


MEASURE = """
import json, resource, sys
from pathlib import Path
from core.errors import InputError
from core.ingest import UploadedFile, staged
from core.ingest.loader import read_study_folder
from core.config import get_settings
folder = Path(sys.argv[1])
files = [UploadedFile(p.name, p.open("rb")) for p in sorted(folder.iterdir())]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()
before = rss()
open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) counts from here
outcome = "loaded"
try:
    with staged(files, get_settings()) as staged_folder:
        study = read_study_folder(staged_folder, folder.name, get_settings())
        outcome = "loaded " + ", ".join(f"{n} {v.array.dtype}" for n, v in study.volumes.items())
except InputError as err:
    outcome = f"{type(err).__name__}: {err.user_message[:160]}"
peak = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"outcome": outcome, "before": before, "peak": peak}))
"""


def measure_reading(folder: Path, env: Mapping[str, str] | None = None) -> dict:
    """Stage and read ``folder``'s files in a fresh process: ``outcome`` (what was loaded, or the refusal), RSS
    ``before`` and the ``peak`` over staging and reading, in bytes."""
    run_env = {key: value for key, value in os.environ.items() if not key.startswith("MGMT_")}
    run_env.update({"MGMT_DATA_DIR": str(folder.parent / "data"), "PYTHONPATH": str(ROOT), **(env or {})})
    done = subprocess.run([sys.executable, "-c", MEASURE, str(folder)], capture_output=True, text=True,
                          env=run_env, cwd=ROOT, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
