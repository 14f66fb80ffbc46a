"""Fit a model folder's out-of-distribution reference (``ood.json``) on in-distribution cases: ``train`` calls it
at its end, and ``python -m core ood MODEL_DIR DATA_DIR`` runs it on an existing folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.inference.ood import OodReference, feature_layer
from core.ingest import load_study

OOD_CASES = 150
"""Cases fitted by default (the 99th percentile then rests on 1.5 cases beyond it; more cost a second each)."""


def case_folders(data_dir: Path, limit: int = OOD_CASES) -> list[Path]:
    """The first ``limit`` case folders of an RSNA-layout folder (``train/<id>/``), in name order."""
    folders = sorted(p for p in (Path(data_dir) / "train").iterdir() if p.is_dir())
    if not folders:
        raise InputError(f"'{data_dir}' has no case folders under train/; expected the RSNA-MICCAI layout.")
    return folders[:limit]


def fit_ood_reference(model_dir: Path, folders: Sequence[Path],
                      progress: Callable[[int, int], None] | None = None) -> OodReference:
    """Pooled features of every case (as served: the same Predictor), a Ledoit-Wolf fit, ``ood.json`` written."""
    from core.inference import Predictor

    predictor = Predictor.load(str(model_dir))
    predictor.ood_reference = None  # the features, not a gate, are wanted here
    features = []
    for done, folder in enumerate(folders, 1):
        try:
            prediction = predictor.predict(load_study(folder), with_cam=False, with_contributions=False)
        except InputError:
            continue
        features.append(prediction.artefacts.pooled_features)
        if progress:
            progress(done, len(folders))
    reference = OodReference.fit(np.stack(features), feature_layer(predictor.model))
    reference.write(Path(model_dir))
    return reference
