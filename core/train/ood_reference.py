"""Fit a model folder's out-of-distribution gate (``ood.json``) on in-distribution cases, one reference per
availability pattern (each case's features with those sequences blanked, as a study missing them is served):
``train`` calls it at its end, and ``python -m core ood MODEL_DIR DATA_DIR`` runs it on an existing folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from core.cohort import discover
from core.errors import InputError
from core.inference.ood import OodGate, OodReference, feature_layer, pooled_features
from core.ingest import load_study

OOD_CASES = 150
"""Cases fitted by default (the 99th percentile then rests on 1.5 cases beyond it; more cost a second each)."""


def case_folders(data_dir: Path, limit: int = OOD_CASES) -> list[Path]:
    """The first ``limit`` case folders of a cohort folder (any layout ``core.cohort`` reads), in case order."""
    return [case.folder for case in discover(Path(data_dir)).cases][:limit]


def availability_patterns(sequences: Sequence[str]) -> list[tuple[str, ...]]:
    """Every set of missing sequences that leaves at least one: (), each one, each pair, each three."""
    return [missing for size in range(len(sequences)) for missing in combinations(sequences, size)]


def fit_ood_reference(model_dir: Path, folders: Sequence[Path],
                      progress: Callable[[int, int], None] | None = None) -> OodGate:
    """Pooled features of every case under every availability pattern (the Predictor's own preprocessing and
    blanking, one batched pass of the first fold model per case), a Ledoit-Wolf fit per pattern, ``ood.json``."""
    from core.inference import Predictor

    predictor = Predictor.load(str(model_dir))
    patterns = availability_patterns(predictor.config.preprocessing.sequences)
    available = torch.cat([predictor.availability(missing) for missing in patterns])
    features: list[np.ndarray] = []
    for done, folder in enumerate(folders, 1):
        try:
            prepared = predictor.prepare(load_study(folder))
        except InputError:
            continue
        x = torch.from_numpy(prepared.image[None]).to(predictor.device) * available[:, :, None, None, None]
        with pooled_features(predictor.model) as pooled, torch.no_grad():
            for start in range(0, len(patterns), 5):  # a few patterns at a time keeps memory small
                predictor.model.members[0].encode(x[start:start + 5], available[start:start + 5])
        features.append(np.concatenate(pooled))
        if progress:
            progress(done, len(folders))
    stacked = np.stack(features)  # (cases, patterns, channels)
    layer = feature_layer(predictor.model)
    gate = OodGate({missing: OodReference.fit(stacked[:, index], layer) for index, missing in enumerate(patterns)})
    gate.write(Path(model_dir))
    return gate
