"""Where the explanation map lies: the share of its mass inside the true tumour (dilated 3 mm) per case of a
synthetic cohort with masks (target: median at least 0.5), beside the share of the brain the tumour fills (what a
map spread at random would reach).

Usage: python benchmarks/attribution.py DATA_DIR [--n 12] [--model DIR]

Each study goes through ``load_study`` and ``Predictor.predict`` (what the Service runs); the true label map
(DATA_DIR/masks) is put on the model grid through world coordinates.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MARGIN_MM = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    import torch

    from core.inference import Predictor
    from core.inference.attribution import mass_inside
    from core.ingest import load_study
    from core.train.masks import mask_on_grid, mask_path

    torch.set_num_threads(2)
    predictor = Predictor.load(args.model)
    spacing = predictor.config.preprocessing.spacing_mm
    shares, chance = [], []
    for folder in sorted(p for p in (args.data_dir / "train").iterdir() if p.is_dir())[:args.n]:
        label_file = mask_path(args.data_dir / "masks", folder.name)
        if label_file is None:
            continue
        artefacts = predictor.predict(load_study(folder), with_contributions=False).artefacts
        tumour = mask_on_grid(label_file, artefacts.prepared.grid) > 0
        shares.append(mass_inside(artefacts.cam, tumour, spacing, MARGIN_MM))
        brain = artefacts.prepared.brain_mask
        chance.append(mass_inside(brain.astype(np.float32), tumour, spacing, MARGIN_MM))
        print(f"{folder.name}: {shares[-1]:.3f} of the map inside the tumour (+{MARGIN_MM:g} mm), which fills "
              f"{chance[-1]:.3f} of the brain")
    print(f"model {predictor.source.repo}: median share of the map inside the true tumour (+{MARGIN_MM:g} mm) "
          f"{np.median(shares):.3f} over {len(shares)} cases (range {min(shares):.3f}-{max(shares):.3f}); the "
          f"tumour fills a median {np.median(chance):.3f} of the brain (target >= 0.5)")


if __name__ == "__main__":
    main()
