"""The label signal: MGMT drawn first, a latent score with known separation, tumour traits driven by it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import norm

from core.regions import ENHANCING, NECROTIC, OEDEMA
from core.synth.anatomy import deformed
from core.synth.cases import case_rng
from core.synth.tumour import (
    DEFAULT_SEPARATION,
    best_achievable_auc,
    draw_latent,
    draw_traits,
    tumour_labels,
    visible_traits,
)


def empirical_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a methylated case scores above an unmethylated one (Mann-Whitney)."""
    positives, negatives = scores[labels == 1], scores[labels == 0]
    return float(np.mean(positives[:, None] > negatives[None, :]))


def hanley_mcneil_se(auc: float, positives: int, negatives: int) -> float:
    """Standard error of an empirical AUC (Hanley & McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return float(np.sqrt(variance / (positives * negatives)))


@pytest.fixture(scope="module")
def latent() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    draws = [draw_latent(rng, DEFAULT_SEPARATION) for _ in range(600)]
    return np.array([d[0] for d in draws]), np.array([d[1] for d in draws])


@pytest.fixture(scope="module")
def anatomy():
    return deformed(case_rng(0, 0), 2.0)


def test_default_separation_gives_a_best_achievable_auc_of_085() -> None:
    assert best_achievable_auc(DEFAULT_SEPARATION) == pytest.approx(norm.cdf(DEFAULT_SEPARATION / np.sqrt(2)))
    assert best_achievable_auc(DEFAULT_SEPARATION) == pytest.approx(0.85, abs=0.002)
    assert best_achievable_auc(0.0) == 0.5


def test_latent_score_auc_is_within_sampling_error_of_the_stated_ceiling(latent) -> None:
    labels, scores = latent
    stated = best_achievable_auc(DEFAULT_SEPARATION)
    se = hanley_mcneil_se(stated, int(labels.sum()), int((1 - labels).sum()))
    assert abs(empirical_auc(scores, labels) - stated) < 3 * se


def test_about_52_percent_of_cases_are_methylated(latent) -> None:
    labels, _ = latent
    assert abs(labels.mean() - 0.52) < 3 * np.sqrt(0.52 * 0.48 / len(labels))


def test_score_raises_the_necrotic_fraction_and_shrinks_oedema() -> None:
    traits = np.array([visible_traits(score) for score in np.linspace(-4, 4, 41)])
    assert np.all(np.diff(traits[:, 0]) > 0) and np.all(np.diff(traits[:, 1]) < 0)


def test_size_and_location_do_not_depend_on_the_label(anatomy) -> None:
    rng = np.random.default_rng(7)
    draws = [draw_traits(rng, anatomy, DEFAULT_SEPARATION) for _ in range(200)]
    labels = np.array([t.label for t in draws])
    for values in ([t.radius_mm for t in draws], *np.array([t.centre_mm for t in draws]).T):
        assert abs(np.corrcoef(labels, values)[0, 1]) < 0.2  # about 2.8 standard errors at n = 200


def test_label_map_has_enhancing_tumour_around_the_necrotic_core_inside_oedema_within_the_brain(anatomy) -> None:
    rng = np.random.default_rng(3)
    labels = tumour_labels(rng, anatomy, draw_traits(rng, anatomy, DEFAULT_SEPARATION))
    assert set(np.unique(labels)) == {0, NECROTIC, OEDEMA, ENHANCING}
    assert not labels[~anatomy.brain].any()
    voxels = {label: np.argwhere(labels == label) for label in (NECROTIC, OEDEMA, ENHANCING)}
    centre = voxels[NECROTIC].mean(axis=0)
    reach = {label: np.median(np.linalg.norm(v - centre, axis=1)) for label, v in voxels.items()}
    assert reach[NECROTIC] < reach[ENHANCING] < reach[OEDEMA]


def test_higher_score_shows_as_a_larger_necrotic_core_and_less_oedema(anatomy) -> None:
    traits = draw_traits(np.random.default_rng(5), anatomy, DEFAULT_SEPARATION)
    maps = {}
    for score in (-2.0, 2.0):
        necrotic_fraction, oedema_extent = visible_traits(score)
        varied = replace(traits, score=score, necrotic_fraction=necrotic_fraction, oedema_extent=oedema_extent)
        maps[score] = tumour_labels(np.random.default_rng(9), anatomy, varied)
    assert (maps[2.0] == NECROTIC).sum() > 1.5 * (maps[-2.0] == NECROTIC).sum()
    assert (maps[2.0] == OEDEMA).sum() < (maps[-2.0] == OEDEMA).sum()
