"""Model cards: the README.md of a model folder, in Hugging Face card format."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from core.notice import PUBLISHED_CONTEXT
from core.preprocess.settings import Preprocessing
from core.regions import REGIONS

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

{served}, two outputs, over four MRI sequences (FLAIR, T1w, T1wCE, T2w) resampled to a {shape} grid of
{spacing} mm and z-scored over the brain:
- a **tumour segmentation** (BraTS sub-regions: necrotic core 1, oedema 2, enhancing tumour 4) from a small
  MONAI residual U-Net ({architecture}, widen factor {widen_factor}, stride-2 stem);
- one **methylation logit** whose head (a small MLP, dropout {dropout}) reads differentiable soft volumes and
  ratios of the predicted sub-regions and which sequences are present (an availability vector). The logit
  passes through a {calibration_method} calibration map (slope {slope:.3f}, intercept {intercept:.3f}) fitted
  on {calibration_fitted_on}, stored in config.json and applied at prediction. {spread}

A call (methylated or unmethylated) is made only where the decision rule accepts: {decision}
Otherwise the label is `indeterminate`, with the reason. The explanation map is each voxel's first-order share
of the logit through the soft sub-region volumes the head reads (gradient of the logit with respect to each
segmentation channel times its probability), so it lies where the model finds tumour.

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
                       minutes: float = 0.0, threads: int = 2, early_stopping: bool = True,
                       decision: str = "no decision rule was fitted.", members: int | None = None) -> None:
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
    low, high = metrics["auc_ci95"]
    kept = _marked_sections(folder / "README.md")
    served, spread, protocol = _served_text(folds if members is None else members, folds, metrics["n"],
                                            early_stopping, final_epochs)
    (folder / "README.md").write_text(TRAINED_CARD.format(
        name="MGMT methylation from MRI (research demo)", published=PUBLISHED_CONTEXT, dataset_type=dataset[0],
        dataset_name=dataset[1],
        headline=headline, data_text=data_text, folds=folds, n=metrics["n"], auc_low=low, auc_high=high,
        final_epochs=final_epochs, settings=", ".join(f"{k}={v}" for k, v in settings.items()),
        shape="x".join(map(str, preprocessing.input_shape)),
        spacing="x".join(map(str, preprocessing.spacing_mm)),
        calibration_method=calibration["method"], slope=calibration["slope"], intercept=calibration["intercept"],
        calibration_fitted_on=calibration.get("fitted_on") or "the out-of-fold logits", served=served, spread=spread,
        sequence_dropout=settings.get("sequence_dropout", 0.0), segmentation=segmentation, decision=decision,
        ece=metrics.get("ece", float("nan")), minutes=minutes, threads=threads, protocol=protocol,
        **{k: metrics[k] for k in ("auc", "accuracy", "threshold", "f1", "brier", "precision", "recall")},
        **{k: settings[k] for k in ("architecture", "widen_factor", "dropout")},
    ).rstrip() + "".join(f"\n\n{section}" for section in kept) + "\n")


def _served_text(members: int, folds: int, n: int, early_stopping: bool, final_epochs: int) -> tuple[str, str, str]:
    """What is served, what its interval is, and how it was trained, as the card says them."""
    fold = ("Early stopping inside each fold watched an inner 20% split of that fold's training cases, never the "
            "held-out fold." if early_stopping else
            f"Each fold's model trained for {final_epochs} epochs on all of that fold's training cases (no early "
            "stopping).")
    if members > 1:
        return (f"{members} networks of one shape (the fold models of {folds}-fold cross-validation, shipped together "
                "and ensembled at prediction as nnU-Net serves its folds: mean logit, mean softmax segmentation)",
                "The interval shown beside the probability is the range of the fold models' calibrated probabilities.",
                f"{fold} The fold models are what is shipped: no model is trained on all {n} cases.")
    return (f"One network (trained on all {n} training cases after {folds}-fold cross-validation)",
            "One model is served, so there is no spread between models: the interval beside the probability is the "
            "probability itself.",
            f"{fold} The shipped model was then trained " + ("for the folds' median best epoch count" if early_stopping
                                                             else "the same way") + f" on all {n} cases.")


def rewrite_trained_card(folder: Path, data_note: str | None = None, members: int | None = None,
                         decision: str = "no decision rule was fitted.") -> None:
    """The card of a trained folder written again from its records (metrics.json, config.json) and ``decision``
    (the decision rule in sentences), keeping its protocol and evaluation sections."""
    from core.model.config import ModelConfig

    record = json.loads((folder / "metrics.json").read_text())
    config = ModelConfig.read(folder / "config.json")
    write_trained_card(folder, metrics={**record["oof"], "ece": record["calibration"]["before"]["ece"]},
                       settings=record["settings"], preprocessing=config.preprocessing,
                       folds=config.metrics.cv_folds if config.metrics else len(record["folds"]),
                       final_epochs=record["final_epochs"], synthetic=record.get("best_achievable_auc") is not None,
                       ceiling=record.get("best_achievable_auc"), calibration=config.calibration.to_json(),
                       segmentation=record["segmentation"], data_note=data_note,
                       minutes=record["seconds"] / 60, threads=record.get("threads", 2),
                       early_stopping=bool(record.get("early_stopping", False)), decision=decision,
                       members=members or int(json.loads((folder / "config.json").read_text()).get("members", 1)))


def _marked_sections(card: Path) -> list[str]:
    """The marked sections of an existing card (protocol, validation, held-out), in that order."""
    text = card.read_text() if card.is_file() else ""
    found = []
    for start, end, *_ in SECTIONS.values():
        if start in text and end in text:
            found.append(text[text.index(start):text.index(end) + len(end)])
    return found


def write_section(folder: Path, section: str, title: str, body: str) -> None:
    """Put (or replace) a marked section of the card (``protocol``: seeds, cohorts and commands), by hand-written
    Markdown ``body`` under ``## title``."""
    start, end, *_ = SECTIONS[section]
    card = folder / "README.md"
    text = card.read_text() if card.exists() else ""
    if start in text:
        text = text[:text.index(start)].rstrip() + text[text.index(end) + len(end):]
    card.write_text(text.rstrip() + f"\n\n{start}\n## {title}\n{body.strip()}\n{end}\n")


SECTIONS = {
    "protocol": ("<!-- protocol -->", "<!-- end of protocol -->",
                 "Seeds, protocol and the commands behind every figure", ""),
    "validation": ("<!-- validation evaluation -->", "<!-- end of validation evaluation -->",
                   "Validation (used for choices, so not a held-out figure)",
                   "never trained on, but every model and hyperparameter choice was made on them"),
    "held-out": ("<!-- held-out evaluation -->", "<!-- end of held-out evaluation -->", "Held-out evaluation",
                 "never seen in training or model selection; used once, for these figures"),
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
    lines += _call_lines(metrics)
    dice = metrics.get("dice") or {}
    scored = [region for region in REGIONS if region.key in dice]
    if dice.get("n") and scored:
        lines.append(f"| Dice, median over {dice['n']} cases: {' / '.join(region.name for region in scored)} | "
                     + " / ".join(f"{dice[region.key]['median']:.3f}" for region in scored) + " |")
    table = metrics.get("missing_sequences")
    if table:
        lines += ["", "Missing sequences (blanked, the model told which); same cases:", "",
                  "| sequences | ROC AUC (95% interval) | share of the four-sequence AUC |", "|---|---|---|"]
        for row in table:
            r_low, r_high = row["auc_ci95"]
            ratio = f"{row['ratio_to_all_four']:.3f}" if row["ratio_to_all_four"] else "-"
            lines.append(f"| {row['setting']} | {row['auc']:.3f} ({r_low:.3f} to {r_high:.3f}) | {ratio} |")
    lines += _error_reject_lines(metrics.get("decision"))
    lines += ["", f"Reproduce: `{command}` (it prints the summary; every figure above is in the metrics.json it "
              "writes under the data folder's evaluation/)", end, ""]
    card.write_text(text.rstrip() + "\n\n" + "\n".join(lines))


def _call_lines(metrics: dict) -> list[str]:
    """Table rows: the calls users get, and logistic recalibration."""
    lines = []
    if "call_rate" in metrics:
        right = (f"{metrics['accuracy_among_calls']:.1%} of them right" if metrics.get("calls")
                 else "none made")
        lines.append(f"| calls (methylated / unmethylated, what `predict` answers) | {metrics['calls']} of "
                     f"{metrics['n']} studies ({metrics['call_rate']:.1%}), {right}; {metrics.get('abstained', 0)} "
                     "abstained |")
    recalibration = metrics.get("recalibration")
    if recalibration:
        lines.append(f"| logistic recalibration of the served probabilities: intercept / slope (calibrated: 0 / 1) "
                     f"| {recalibration['intercept']:+.3f} / {recalibration['slope']:.3f} |")
    return lines


def _error_reject_lines(decision: dict | None) -> list[str]:
    """The error-reject curve of the decision rule on these cases, the served target error marked."""
    if not decision or not decision.get("error_reject"):
        return []
    lines = ["", f"Error-reject curve of the decision rule ({decision['rule']}, fitted on {decision['n']} "
             f"cases; served at target error {decision['target_error']:g}, marked): each target error gives a "
             "share of studies called and an error among those calls (abstentions count as no call).", "",
             "| target error | share called | error among calls |", "|---|---|---|"]
    for point in decision["error_reject"]:
        mark = " **(served)**" if abs(point["target_error"] - decision["target_error"]) < 1e-9 else ""
        lines.append(f"| {point['target_error']:.2f}{mark} | {point['call_rate']:.3f} | "
                     f"{point['error_among_calls']:.3f} |")
    return lines


def write_evaluation_figures(folder: Path, metrics: dict, section: str, data_description: str, command: str) -> Path:
    """``evaluation-<section>.json`` in the model folder: what the Model page draws (the calls, the error-reject
    curve with the served point, calibration) beside the card's section, and each case's probability (``cases``), by
    which a few re-scored cases check that the model still gives the card's figures."""
    keys = ("n", "auc", "auc_ci95", "ece", "call_rate", "accuracy_among_calls", "calls", "abstained",
            "recalibration", "decision", "latent_score", "dice", "cases")
    path = folder / f"evaluation-{section}.json"
    path.write_text(json.dumps({"section": section, "data": data_description, "command": command,
                                **{key: metrics.get(key) for key in keys}}, indent=1))
    return path


def read_evaluation_figures(folder: Path) -> dict[str, dict]:
    """The evaluations a model folder carries (validation, held-out), by section; empty when none."""
    found = {}
    for section in ("validation", "held-out"):
        path = folder / f"evaluation-{section}.json"
        if path.is_file():
            try:
                found[section] = json.loads(path.read_text())
            except ValueError:
                continue
    return found


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
