"""Which series is which sequence: folder names, NIfTI conventions, description text, then header physics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from core import SEQUENCES
from core.errors import InputError

Candidate = TypeVar("Candidate")

FOLDER_ALIASES: dict[str, tuple[str, ...]] = {
    "FLAIR": ("flair", "t2flair", "t2f", "flairt2"),
    "T1w": ("t1w", "t1", "t1n", "t1pre", "t1native"),
    "T1wCE": ("t1wce", "t1ce", "t1c", "t1gd", "t1post", "t1contrast", "t1wc", "t1postcontrast"),
    "T2w": ("t2w", "t2"),
}
"""Folder (and file stem) names per sequence, compared lower-case with punctuation removed."""

NIFTI_SUFFIXES: dict[str, tuple[str, ...]] = {
    "FLAIR": ("_flair", "-t2f", "_t2f"),
    "T1w": ("_t1", "-t1n", "_t1n"),
    "T1wCE": ("_t1ce", "-t1c", "_t1c", "_t1gd"),
    "T2w": ("_t2", "-t2w", "_t2w"),
}
"""BraTS 2021 (``_flair/_t1/_t1ce/_t2``) and BraTS 2023 (``-t2f/-t1n/-t1c/-t2w``) file name endings."""

NAMING_HELP = (
    "Name the series' folders FLAIR, T1w, T1wCE and T2w (the RSNA-MICCAI layout), or NIfTI files "
    "*_flair/_t1/_t1ce/_t2.nii.gz (BraTS 2021) or *-t2f/-t1n/-t1c/-t2w.nii.gz (BraTS 2023)."
)

_CONTRAST_TEXT = re.compile(r"(post|gad|\bgd\b|\+\s*c\b|\bc\+|contrast|\bce\b|t1ce|t1c\b|enhanc|\bmdc\b)", re.I)
_FLAIR_TEXT = re.compile(r"(flair|dark\s*fluid|\btirm\b|t2f\b)", re.I)
_T2_TEXT = re.compile(r"t2(?![*]|\s*star)", re.I)
_T1_TEXT = re.compile(r"(t1|mprage|spgr|bravo|\btfe\b|\bffe\b)", re.I)


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def sequence_from_folder(name: str) -> str | None:
    """The sequence an RSNA-style folder name stands for, or None."""
    key = _normalise(name)
    for sequence, aliases in FOLDER_ALIASES.items():
        if key in aliases:
            return sequence
    return None


def sequence_from_nifti_name(file_name: str) -> str | None:
    """The sequence a NIfTI file name stands for by BraTS convention or plain RSNA name, or None."""
    stem = re.sub(r"\.nii(\.gz)?$", "", file_name, flags=re.I).lower()
    for sequence in ("T1wCE", "FLAIR", "T2w", "T1w"):  # longest endings first: _t1ce before _t1
        if stem.endswith(NIFTI_SUFFIXES[sequence]):
            return sequence
    return sequence_from_folder(stem)


def sequence_from_description(text: str) -> str | None:
    """The sequence a SeriesDescription/ProtocolName such as 'AX T1 POST GAD' names, or None."""
    if not text:
        return None
    text = re.sub(r"[_\-./]", " ", text)  # scanner names use these as word breaks: t2_tirm_tra_dark-fluid
    if _FLAIR_TEXT.search(text):
        return "FLAIR"
    if _T1_TEXT.search(text):
        return "T1wCE" if _CONTRAST_TEXT.search(text) else "T1w"
    if _T2_TEXT.search(text):
        return "T2w"
    return None


def sequence_from_physics(
    repetition_ms: float | None, echo_ms: float | None, inversion_ms: float | None, contrast_agent: str | None
) -> str | None:
    """The sequence that TR/TE/TI and the contrast agent tag point to, or None when they do not decide."""
    if inversion_ms and inversion_ms >= 1500 and echo_ms and echo_ms >= 60:
        return "FLAIR"
    if repetition_ms and echo_ms is not None:
        if repetition_ms >= 2000 and echo_ms >= 60:
            return "T2w"
        short_t1 = repetition_ms <= 1000 and echo_ms <= 30
        inversion_t1 = bool(inversion_ms) and inversion_ms < 1500 and echo_ms <= 30  # MPRAGE-like
        if short_t1 or inversion_t1:
            return "T1wCE" if contrast_agent else "T1w"
    return None


@dataclass(frozen=True)
class Evidence(Generic[Candidate]):
    """A series (or file) that may be a sequence, with how strongly it was recognised (lower wins)."""

    candidate: Candidate
    sequence: str
    rank: int
    reason: str


def assign_sequences(
    evidence: list[Evidence[Candidate]], everything: list[str], describe
) -> dict[str, Evidence[Candidate]]:
    """Pick one candidate per sequence by the strongest evidence; a sequence no series stands for is left out (the
    study is predicted without it); raise listing all series when two compete or none is recognised."""
    chosen: dict[str, Evidence[Candidate]] = {}
    problems = []
    for sequence in SEQUENCES:
        options = [e for e in evidence if e.sequence == sequence]
        if not options:
            problems.append(f"no series was recognised as {sequence}")
            continue
        best = min(e.rank for e in options)
        top = [e for e in options if e.rank == best]
        if len(top) > 1:
            rivals = " and ".join(describe(e.candidate) for e in top)
            problems.append(f"{len(top)} series compete for {sequence} ({rivals})")
            continue
        chosen[sequence] = top[0]
    competing = any("compete" in problem for problem in problems)
    if competing or not chosen:  # a sequence that is simply absent is predicted without (the model's dropout)
        found = "\n".join(f"  - {line}" for line in everything) or "  (none)"
        raise InputError(f"Cannot tell the four sequences apart: {'; '.join(problems)}. Found:\n{found}\n"
                         f"{NAMING_HELP}")
    return chosen
