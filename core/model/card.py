"""Model cards: the README.md of a model folder, in Hugging Face card format."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.notice import PUBLISHED_CONTEXT
from core.preprocess.settings import Preprocessing

TRAINED_CARD = """---
library_name: mgmt-radiogenomics
license: apache-2.0
tags: [medical-imaging, mri, glioblastoma, mgmt, research-only, segmentation]
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

One network, two outputs, over four MRI sequences (FLAIR, T1w, T1wCE, T2w) resampled to a {shape} grid of
{spacing} mm and z-scored over the brain:
- a **tumour segmentation** (BraTS sub-regions: necrotic core 1, oedema 2, enhancing tumour 4) from a small
  MONAI residual U-Net ({architecture}, widen factor {widen_factor}, stride-2 stem);
- one **methylation logit** whose head (a small MLP, dropout {dropout}) reads differentiable soft volumes and
  ratios of the predicted sub-regions and which sequences are present (an availability vector). The logit
  passes through a {calibration_method} calibration map (slope {slope:.3f}, intercept {intercept:.3f}) fitted
  on the out-of-fold logits, stored in config.json and applied at prediction.

Missing sequences: trained with sequence dropout ({sequence_dropout:.0%} of training cases had one or two
sequences blanked, the model told which), so a study with any usable sequence can be scored.

## Training data
{data_text}
{segmentation}.

## Cross-validated performance ({folds}-fold, stratified; {n} cases)
| metric | value |
|---|---|
| ROC AUC | {auc:.3f} (95% bootstrap interval {auc_low:.3f} to {auc_high:.3f}) |
| accuracy at {threshold} | {accuracy:.3f} |
| precision / recall / F1 | {precision:.3f} / {recall:.3f} / {f1:.3f} |
| Brier score (uncalibrated) | {brier:.3f} |
| ECE, 10 bins (uncalibrated) | {ece:.3f} |

{protocol} Training took {minutes:.0f} minutes on {threads} CPU thread(s), cross-validation included.
Hyperparameters: {settings}.

## Intended use and limits
Research demo only; not a medical device; never for diagnosis or treatment decisions. {published}
"""

SYNTHETIC_HEADLINE = ("**Trained on synthetic data only: these weights carry no clinical meaning whatsoever.** Their "
                      "metrics measure how well the network recovers the generator's planted signal, nothing about "
                      "real tumours.")


def write_trained_card(folder: Path, *, metrics: dict, settings: dict, preprocessing: Preprocessing, folds: int,
                       final_epochs: int, synthetic: bool, ceiling: float | None, calibration: dict | None = None,
                       segmentation: str = "Segmentation not trained", data_note: str | None = None,
                       minutes: float = 0.0, threads: int = 2, early_stopping: bool = True) -> None:
    """The model card of a trained model, with its cross-validated metrics in model-index form."""
    if synthetic:
        data_text = ("A synthetic cohort written by `python -m core synth` (MNI152 anatomy, planted tumour traits "
                     f"driven by a latent score); the best AUC any model can reach on it is {ceiling:.3f}.")
        headline, dataset = SYNTHETIC_HEADLINE, ("synthetic", "mgmt-radiogenomics synthetic cohort")
    else:
        data_text = "An RSNA-MICCAI style training folder with its train_labels.csv."
        headline, dataset = "Research use only.", ("rsna-miccai-brain-tumor", "RSNA-MICCAI training set")
    if data_note:
        data_text += " " + data_note
    calibration = calibration or {"method": "none", "slope": 1.0, "intercept": 0.0}
    if early_stopping:
        protocol = ("Early stopping inside each fold watched an inner 20% split of that fold's training cases, never "
                    f"the held-out fold. The shipped model was then trained on all {metrics['n']} cases for "
                    f"{final_epochs} epochs (the median best epoch of the folds).")
    else:
        protocol = (f"Each fold's model trained for {final_epochs} epochs on all of that fold's training cases (no "
                    f"early stopping); the shipped model was then trained the same way on all {metrics['n']} "
                    "cases.")
    low, high = metrics["auc_ci95"]
    (folder / "README.md").write_text(TRAINED_CARD.format(
        name="MGMT methylation from MRI (research demo)", published=PUBLISHED_CONTEXT, dataset_type=dataset[0],
        dataset_name=dataset[1],
        headline=headline, data_text=data_text, folds=folds, n=metrics["n"], auc_low=low, auc_high=high,
        final_epochs=final_epochs, settings=", ".join(f"{k}={v}" for k, v in settings.items()),
        shape="x".join(map(str, preprocessing.input_shape)),
        spacing="x".join(map(str, preprocessing.spacing_mm)),
        calibration_method=calibration["method"], slope=calibration["slope"], intercept=calibration["intercept"],
        sequence_dropout=settings.get("sequence_dropout", 0.0), segmentation=segmentation,
        ece=metrics.get("ece", float("nan")), minutes=minutes, threads=threads, protocol=protocol,
        **{k: metrics[k] for k in ("auc", "accuracy", "threshold", "f1", "brier", "precision", "recall")},
        **{k: settings[k] for k in ("architecture", "widen_factor", "dropout")},
    ))


SECTIONS = {
    "held-out": ("<!-- held-out evaluation -->", "<!-- end of held-out evaluation -->", "Held-out evaluation",
                 "never seen in training or model selection; used once, for these figures"),
    "validation": ("<!-- validation evaluation -->", "<!-- end of validation evaluation -->",
                   "Validation (used for choices, so not a held-out figure)",
                   "never trained on, but every model and hyperparameter choice was made on them"),
}
HELDOUT_START, HELDOUT_END = SECTIONS["held-out"][:2]


def write_heldout_section(folder: Path, metrics: dict, data_description: str, command: str,
                          section: str = "held-out") -> None:
    """Put (or replace) an evaluation section (held-out or validation) in the card, with the command that
    reproduces it exactly. ``metrics`` is evaluate's report (its optional parts add their tables)."""
    start, end, title, role = SECTIONS[section]
    card = folder / "README.md"
    text = card.read_text() if card.exists() else ""
    if start in text:
        text = text[:text.index(start)].rstrip() + text[text.index(end) + len(end):]
    low, high = metrics["auc_ci95"]
    lines = [start, f"## {title}", f"{data_description}: {metrics['n']} cases, {role}.", "",
             "| metric | value |", "|---|---|",
             f"| ROC AUC | {metrics['auc']:.3f} (95% bootstrap interval {low:.3f} to {high:.3f}) |"]
    latent = metrics.get("latent_score")
    if latent:
        lines.append(f"| latent-score AUC of the same cases (the ceiling) | {latent['auc']:.3f}; model / latent = "
                     f"{latent['ratio']:.3f} |")
    lines += [f"| accuracy at {metrics['threshold']} | {metrics['accuracy']:.3f} |",
              f"| precision / recall / F1 | {metrics['precision']:.3f} / {metrics['recall']:.3f} / "
              f"{metrics['f1']:.3f} |"]
    calibration = metrics.get("calibration_before_after")
    if calibration:
        before, after = calibration["before"], calibration["after"]
        lines += [f"| Brier score, before / after calibration | {before['brier']:.3f} / {after['brier']:.3f} |",
                  f"| ECE (10 bins), before / after calibration | {before['ece']:.3f} / {after['ece']:.3f} |"]
        if "ece_if_perfectly_calibrated" in after:
            lines.append(f"| ECE a perfectly calibrated model with these probabilities shows from sampling alone "
                         f"(mean of 1,000 draws, {metrics['n']} cases) | {after['ece_if_perfectly_calibrated']:.3f} |")
    else:
        lines.append(f"| Brier score | {metrics['brier']:.3f} |")
    dice = metrics.get("dice") or {}
    if dice.get("n"):
        lines.append(f"| Dice, median over {dice['n']} cases: whole tumour / enhancing / necrotic core | "
                     f"{dice['whole']['median']:.3f} / {dice['enhancing']['median']:.3f} / "
                     f"{dice['necrotic']['median']:.3f} |")
    table = metrics.get("missing_sequences")
    if table:
        lines += ["", "Missing sequences (blanked, the model told which); same cases:", "",
                  "| sequences | ROC AUC (95% interval) | share of the four-sequence AUC |", "|---|---|---|"]
        for row in table:
            r_low, r_high = row["auc_ci95"]
            ratio = f"{row['ratio_to_all_four']:.3f}" if row["ratio_to_all_four"] else "-"
            lines.append(f"| {row['setting']} | {row['auc']:.3f} ({r_low:.3f} to {r_high:.3f}) | {ratio} |")
    lines += ["", f"Reproduce: `{command}` (it prints the summary; every figure above is in the metrics.json it "
              "writes under the data folder's evaluation/)", end, ""]
    card.write_text(text.rstrip() + "\n\n" + "\n".join(lines))


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
