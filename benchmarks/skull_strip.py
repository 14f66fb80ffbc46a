"""Skull stripping quality: Dice of the brain mask against the generator's true mask on skull-on cases.

Usage: python benchmarks/skull_strip.py [--cases 5] [--seed 100]
Writes skull-on synthetic cases (``--skull``), runs the preprocessing chain (which detects the scalp and runs
deepbet on T1w), and prints per case: whether stripping ran, Dice on the model grid, and the seconds it took.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    import torch

    from core.ingest import load_study
    from core.preprocess import prepare
    from core.preprocess.settings import Preprocessing
    from core.synth.cases import write_case
    from tests.preprocess.test_skull import _true_mask_on_grid, dice

    torch.set_num_threads(2)
    scores = []
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for index in range(args.cases):
            truth = write_case(out, index, seed=args.seed, skull=True)
            started = time.perf_counter()
            prepared = prepare(load_study(out / "train" / truth.case_id), Preprocessing())
            seconds = time.perf_counter() - started
            score = dice(prepared.brain_mask, _true_mask_on_grid(out / "masks" / f"{truth.case_id}_brain.nii.gz",
                                                                 prepared.grid))
            scores.append(score)
            print(f"case {truth.case_id}: {prepared.skull.action}, Dice {score:.3f}, prepare {seconds:.1f} s")
    print(f"Dice over {len(scores)} skull-on cases: median {statistics.median(scores):.3f}, "
          f"min {min(scores):.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
