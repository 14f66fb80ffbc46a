"""Abstention rates: in-distribution held-out synthetic cases (target <= 5%), the same cases with one sequence
missing (target <= 10% each), and five kinds of study the model is not meant for (target >= 90% each): pure noise
in valid DICOM geometry, a healthy brain (the MNI152 template the generator starts from, no tumour), all four
sequences copies of one, slices 10 mm thick, a CT-like intensity scale.

Usage: python benchmarks/abstention.py [--val /work/data/val100] [--n-val 100] [--n-missing 100] [--n 10]
                                       [--dir DIR] [--model DIR]
       python benchmarks/abstention.py --cam 5   # explanation-map model-randomisation check on 5 val cases

Each study goes through ``load_study`` and ``Predictor.predict`` (what the Service runs, without the log). A study
refused as an InputError is counted apart ("rejected": no probability at all); "not answered" = abstained +
rejected. "Indeterminate" (the decision rule makes no call) is not an abstention and is shown apart. A missing
sequence is blanked and the model told so (``predict(missing=...)``), as for a study that lacks it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import SEQUENCES  # noqa: E402

SEED = 913  # synthetic cases of the out-of-distribution kinds: a seed no cohort on disk uses
THICK_MM = 10.0


def _edit_series(folder: Path, edit: Callable[[np.ndarray], np.ndarray], intercept: float | None = None) -> None:
    """Rewrite every file's pixels of a series through ``edit`` (on real intensities), keeping its geometry."""
    import pydicom

    files = sorted(folder.glob("*.dcm"))
    datasets = [pydicom.dcmread(path) for path in files]
    values = np.stack([ds.pixel_array * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
                       for ds in datasets])
    edited = edit(values)
    for path, ds, plane in zip(files, datasets, edited, strict=True):
        offset = 0.0 if intercept is None else intercept
        ds.RescaleSlope, ds.RescaleIntercept = 1, offset
        ds.PixelRepresentation = 1
        ds.PixelData = np.clip(np.rint(plane - offset), -32768, 32767).astype(np.int16).tobytes()
        ds.save_as(path)


def noise_case(root: Path, index: int) -> Path:
    from core.synth.cases import write_case

    case = root / "train" / write_case(root, index, seed=SEED).case_id
    rng = np.random.default_rng(index)
    for sequence in SEQUENCES:
        _edit_series(case / sequence, lambda v: rng.uniform(0, 1000, v.shape))
    return case


def healthy_case(root: Path, index: int) -> Path:
    """The MNI152 template itself (not deformed), no tumour, acquired like any synthetic case."""
    import core.synth.cases as cases
    from core.synth.anatomy import template

    saved = cases.deformed, cases.tumour_labels
    cases.deformed = lambda rng, spacing: template(spacing)
    cases.tumour_labels = lambda rng, anatomy, traits: np.zeros(anatomy.shape, np.uint8)
    try:
        return root / "train" / cases.write_case(root, index, seed=SEED).case_id
    finally:
        cases.deformed, cases.tumour_labels = saved


def copies_case(root: Path, index: int) -> Path:
    """Every sequence folder holds the T1w series (each with its own series UID, so all four are read)."""
    import pydicom
    from pydicom.uid import generate_uid

    from core.synth.cases import write_case

    case = root / "train" / write_case(root, index, seed=SEED).case_id
    for sequence in ("FLAIR", "T1wCE", "T2w"):
        shutil.rmtree(case / sequence)
        shutil.copytree(case / "T1w", case / sequence)
        uid = generate_uid()
        for path in (case / sequence).glob("*.dcm"):
            ds = pydicom.dcmread(path)
            ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.SeriesDescription = uid, generate_uid(), sequence
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.save_as(path)
    return case


def thick_case(root: Path, index: int) -> Path:
    """Every series acquired with slices THICK_MM apart (same extent, fewer slices)."""
    import core.synth.cases as cases

    planned = cases.plan_series

    def thick(rng, sequence, size, centre):
        plan = planned(rng, sequence, size, centre)
        step = float(np.linalg.norm(plan.affine[:3, 2]))
        slices = max(2, int(round(plan.shape[2] * step / THICK_MM)))
        affine = plan.affine.copy()
        middle = affine[:3, :3] @ ((np.asarray(plan.shape) - 1) / 2) + affine[:3, 3]
        affine[:3, 2] *= THICK_MM / step
        shape = (plan.shape[0], plan.shape[1], slices)
        affine[:3, 3] = middle - affine[:3, :3] @ ((np.asarray(shape) - 1) / 2)
        return replace(plan, affine=affine, shape=shape)

    cases.plan_series = thick
    try:
        return root / "train" / cases.write_case(root, index, seed=SEED).case_id
    finally:
        cases.plan_series = planned


def ct_case(root: Path, index: int) -> Path:
    """Intensities on a Hounsfield-like scale: air -1000, fluid near 0-15, brain 20-45 (RescaleIntercept -1024)."""
    from core.synth.cases import write_case

    case = root / "train" / write_case(root, index, seed=SEED).case_id
    for sequence in SEQUENCES:
        def to_hounsfield(values: np.ndarray) -> np.ndarray:
            top = max(float(np.percentile(values, 99.5)), 1e-6)
            return np.where(values > 0.05 * top, 5.0 + 40.0 * np.clip(values / top, 0, 1), -1000.0)
        _edit_series(case / sequence, to_hounsfield, intercept=-1024.0)
    return case


KINDS: dict[str, Callable[[Path, int], Path]] = {
    "pure noise (valid DICOM geometry)": noise_case,
    "healthy brain (MNI152, no tumour)": healthy_case,
    "four copies of one sequence": copies_case,
    f"slices {THICK_MM:g} mm thick": thick_case,
    "CT-like intensity scale": ct_case,
}


def outcome(predictor, folder: Path, missing: tuple[str, ...] = ()) -> tuple[str, list[str]]:
    """``abstained``, ``indeterminate``, ``answered`` or ``rejected``, and the reasons / error."""
    from core.errors import InputError
    from core.ingest import load_study

    try:
        result = predictor.predict(load_study(folder), with_cam=False, missing=missing,
                                   with_contributions=False).result
    except InputError as err:
        return "rejected", [err.user_message.splitlines()[0][:160]]
    if result.abstained:
        return "abstained", list(result.reasons)
    return ("indeterminate" if result.label == "indeterminate" else "answered"), []


def row(name: str, results: list[tuple[str, list[str]]]) -> str:
    n = len(results)
    count = {kind: sum(r[0] == kind for r in results) for kind in ("abstained", "rejected", "indeterminate")}
    not_answered = count["abstained"] + count["rejected"]
    return (f"| {name} | {n} | {count['abstained'] / n:.0%} | {count['rejected'] / n:.0%} | {not_answered / n:.0%} "
            f"| {count['indeterminate'] / n:.0%} |")


def cam_sanity(predictor, folders: list[Path]) -> None:
    """Spearman rank correlation, inside the brain, of the trained model's explanation map and that of the same
    network with randomised weights (Adebayo et al. 2018); near 0 is what a map that explains the model gives."""
    from core.inference import Predictor
    from core.inference.cam_sanity import map_rank_correlation, randomised_copy
    from core.ingest import load_study

    random = Predictor(randomised_copy(predictor.model), predictor.source)
    values = []
    for folder in folders:
        study = load_study(folder)
        ours, theirs = predictor.predict(study), random.predict(study)
        values.append(map_rank_correlation(ours.artefacts.cam, theirs.artefacts.cam,
                                           ours.artefacts.prepared.brain_mask))
        print(f"{folder.name}: rank correlation {values[-1]:+.3f}")
    print(f"explanation map vs randomised weights: median rank correlation {np.median(values):+.3f} "
          f"(range {min(values):+.3f} to {max(values):+.3f}, {len(values)} cases)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, default=Path("/work/data/val100"))
    parser.add_argument("--n-val", type=int, default=100)
    parser.add_argument("--n-missing", type=int, default=None, help="val cases scored with each sequence missing "
                        "(default: --n-val)")
    parser.add_argument("--n", type=int, default=10, help="cases of each out-of-distribution kind")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the cases (default: a temp folder)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--only", default=None, help="run only kinds whose name contains this text ('val' too)")
    parser.add_argument("--cam", type=int, default=0, help="only the explanation-map randomisation check, on N val "
                        "cases")
    args = parser.parse_args()
    import torch

    from core.inference import Predictor

    torch.set_num_threads(2)
    predictor = Predictor.load(args.model)
    if args.cam:
        cam_sanity(predictor, sorted(p for p in (args.val / "train").iterdir() if p.is_dir())[:args.cam])
        return
    gate = predictor.ood_reference
    print(f"model {predictor.source.repo}; OOD gate: " + (f"threshold {gate.threshold:.2f} ({gate.percentile:g}th "
          f"percentile of {gate.n_cases} cases, layer {gate.layer})" if gate else "none (no ood.json)"))
    work = args.dir or Path(tempfile.mkdtemp(prefix="abstention-"))
    lines = ["| cases | n | abstained | rejected (InputError) | not answered | indeterminate (answered) |",
             "|---|---|---|---|---|---|"]
    reasons: dict[str, list[str]] = {}
    if args.n_val > 0 and (args.only is None or args.only in "val"):
        folders = sorted(p for p in (args.val / "train").iterdir() if p.is_dir())[:args.n_val]
        results = [outcome(predictor, folder) for folder in folders]
        lines.append(row(f"in-distribution held-out ({args.val.name})", results))
        reasons["in-distribution"] = [r for kind, rs in results for r in rs if kind == "abstained"]
        for sequence in SEQUENCES:
            some = folders[:args.n_val if args.n_missing is None else args.n_missing]
            results = [outcome(predictor, folder, (sequence,)) for folder in some]
            lines.append(row(f"in-distribution, {sequence} missing", results))
            reasons[f"{sequence} missing"] = [r for kind, rs in results for r in rs if kind == "abstained"]
    for name, make in KINDS.items():
        if args.only is not None and args.only not in name:
            continue
        results = []
        for index in range(args.n):
            root = work / make.__name__
            results.append(outcome(predictor, make(root, index)))
        lines.append(row(name, results))
        reasons[name] = [r for _, rs in results for r in rs]
    print("\n".join(lines))
    for name, said in reasons.items():
        common = sorted(set(said), key=said.count, reverse=True)[:3]
        print(f"\n{name}: " + (" / ".join(text[:150] for text in common) if common else "(no reasons)"))
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
