"""Forward pass of the served network (every fold model: segmentation + methylation logit, ensembled) at the
shipped input shape, and the weights' size.

Usage: python benchmarks/model.py [--model DIR] [--threads 2] [--repeats 10]

Times ``model.outputs(x)`` for one study (batch 1, no gradient) on the CPU with the given number of threads, after
two warm-up passes; prints the median and the fastest run (the machine may be shared: the fastest run is the
closest to the uncontended figure). Targets: forward <= 0.25 s on 2 threads, weights <= 32 MB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ROOT / "weights"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    import torch

    from core.model import load_model

    torch.set_num_threads(args.threads)
    model, source = load_model(args.model)
    shape = model.config.preprocessing.input_shape
    x = torch.randn(1, len(model.config.preprocessing.sequences), *shape)
    runs = []
    with torch.no_grad():
        for _ in range(2):
            model.outputs(x)
        for _ in range(args.repeats):
            started = time.perf_counter()
            logit, segmentation = model.outputs(x)
            runs.append(time.perf_counter() - started)
    size = (Path(source.folder) / "model.safetensors").stat().st_size / 1e6
    parameters = sum(p.numel() for p in model.parameters())
    print(f"model {source.repo}: {len(model.members)} x {model.config.architecture}, {parameters:,} parameters; "
          f"input 1x{x.shape[1]}x{'x'.join(map(str, shape))}, outputs logit {tuple(logit.shape)} and segmentation "
          f"{tuple(segmentation.shape)}")
    print(f"forward (all fold models: segmentation + logit) on {args.threads} thread(s): median "
          f"{statistics.median(runs):.3f} s, "
          f"fastest {min(runs):.3f} s over {args.repeats} runs (target <= 0.25 s)")
    print(f"weights {size:.1f} MB (target <= 32 MB)")


if __name__ == "__main__":
    main()
