"""Model cards: the README.md of a model folder, in Hugging Face card format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.model.config import Preprocessing
from core.notice import PUBLISHED_CONTEXT

TRAINED_CARD = """---
library_name: mgmt-radiogenomics
license: apache-2.0
tags: [medical-imaging, mri, glioblastoma, mgmt, research-only]
model-index:
- name: {name}
  results:
  - task: {{type: image-classification, name: MGMT promoter methylation}}
    dataset: {{type: {dataset_type}, name: {dataset_name}}}
    metrics:
    - {{type: roc_auc, value: {auc:.4f}, name: out-of-fold ROC AUC ({folds}-fold CV)}}
    - {{type: accuracy, value: {accuracy:.4f}, name: out-of-fold accuracy at {threshold}}}
    - {{type: f1, value: {f1:.4f}, name: out-of-fold F1}}
    - {{type: brier, value: {brier:.4f}, name: out-of-fold Brier score}}
---
{headline}

# {name}

A MONAI 3D {architecture} (widen factor {widen_factor}, stride-2 stem) over four MRI sequences (FLAIR, T1w,
T1wCE, T2w) resampled to a {shape} grid of {spacing} mm and z-scored over the brain; dropout
{dropout}; one logit: the probability that the tumour's MGMT promoter is methylated.

## Training data
{data_text}

## Cross-validated performance ({folds}-fold, stratified; {n} cases)
| metric | value |
|---|---|
| ROC AUC | {auc:.3f} (95% bootstrap interval {auc_low:.3f} to {auc_high:.3f}) |
| accuracy at {threshold} | {accuracy:.3f} |
| precision / recall / F1 | {precision:.3f} / {recall:.3f} / {f1:.3f} |
| Brier score | {brier:.3f} |

Early stopping inside each fold watched an inner 20% split of that fold's training cases, never the held-out
fold. The shipped model was then trained on all {n} cases for {final_epochs} epochs (the median best epoch of
the folds). Hyperparameters: {settings}.

## Intended use and limits
Research demo only; not a medical device; never for diagnosis or treatment decisions. {published}
"""

SYNTHETIC_HEADLINE = ("**Trained on synthetic data only: these weights carry no clinical meaning whatsoever.** Their "
                      "metrics measure how well the network recovers the generator's planted signal, nothing about "
                      "real tumours.")


def write_trained_card(folder: Path, *, metrics: dict, settings: dict, preprocessing: Preprocessing, folds: int,
                       final_epochs: int, synthetic: bool, ceiling: float | None) -> None:
    """The model card of a trained model, with its cross-validated metrics in model-index form."""
    if synthetic:
        data_text = ("A synthetic cohort written by `python -m core synth` (MNI152 anatomy, planted tumour traits "
                     f"driven by a latent score); the best AUC any model can reach on it is {ceiling:.3f}.")
        headline, dataset = SYNTHETIC_HEADLINE, ("synthetic", "mgmt-radiogenomics synthetic cohort")
    else:
        data_text = "An RSNA-MICCAI style training folder with its train_labels.csv."
        headline, dataset = "Research use only.", ("rsna-miccai-brain-tumor", "RSNA-MICCAI training set")
    low, high = metrics["auc_ci95"]
    (folder / "README.md").write_text(TRAINED_CARD.format(
        name="MGMT methylation from MRI (research demo)", published=PUBLISHED_CONTEXT, dataset_type=dataset[0],
        dataset_name=dataset[1],
        headline=headline, data_text=data_text, folds=folds, n=metrics["n"], auc_low=low, auc_high=high,
        final_epochs=final_epochs, settings=", ".join(f"{k}={v}" for k, v in settings.items()),
        shape="x".join(map(str, preprocessing.input_shape)),
        spacing="x".join(map(str, preprocessing.spacing_mm)),
        **{k: metrics[k] for k in ("auc", "accuracy", "threshold", "f1", "brier", "precision", "recall")},
        **{k: settings[k] for k in ("architecture", "widen_factor", "dropout")},
    ))


HELDOUT_START, HELDOUT_END = "<!-- held-out evaluation -->", "<!-- end of held-out evaluation -->"


def write_heldout_section(folder: Path, metrics: dict, data_description: str, command: str) -> None:
    """Put (or replace) the held-out evaluation in the card, with the command that reproduces it exactly."""
    card = folder / "README.md"
    text = card.read_text() if card.exists() else ""
    if HELDOUT_START in text:
        text = text[:text.index(HELDOUT_START)].rstrip() + text[text.index(HELDOUT_END) + len(HELDOUT_END):]
    low, high = metrics["auc_ci95"]
    section = f"""{HELDOUT_START}
## Held-out evaluation
{data_description}: {metrics['n']} cases, never seen in training or model selection.

| metric | value |
|---|---|
| ROC AUC | {metrics['auc']:.3f} (95% bootstrap interval {low:.3f} to {high:.3f}) |
| accuracy at {metrics['threshold']} | {metrics['accuracy']:.3f} |
| precision / recall / F1 | {metrics['precision']:.3f} / {metrics['recall']:.3f} / {metrics['f1']:.3f} |
| Brier score | {metrics['brier']:.3f} |

Reproduce: `{command}`
{HELDOUT_END}
"""
    card.write_text(text.rstrip() + "\n\n" + section)


@dataclass(frozen=True)
class Card:
    """A model card split into its YAML front matter (model-index etc.) and its Markdown body."""

    metadata: str
    body: str


def read_card(folder: Path) -> Card:
    """The README.md of a model folder as front matter and body (both empty when there is no card)."""
    path = folder / "README.md"
    if not path.is_file():
        return Card("", "")
    text = path.read_text(encoding="utf-8", errors="replace")
    if text.startswith("---\n") and "\n---\n" in text[4:]:
        end = text.index("\n---\n", 4)
        return Card(text[4:end], text[end + 5:].strip())
    return Card("", text.strip())


def without_comments(markdown: str) -> str:
    """Markdown without its HTML comments (``<!-- held-out evaluation -->`` marks a section; it is not text)."""
    return re.sub(r"<!--.*?-->\n?", "", markdown, flags=re.S)


def demoted(markdown: str, levels: int = 2) -> str:
    """Markdown with every heading ``levels`` deeper (a card shown inside a page keeps the page's headings on top)."""
    return re.sub(r"^(#{1,6}) ", lambda m: "#" * min(6, len(m.group(1)) + levels) + " ", markdown, flags=re.M)
