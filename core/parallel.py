"""The sequences of a study worked on at once: reading pixels into a volume, numpy, scipy's resampling and torch
all release the GIL, so a few threads keep both cores of a small machine busy where one would leave one idle."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

SEQUENCE_THREADS = 2
"""Sequences worked on at once (a study has four; the machines this runs on have two cores or more)."""


def each_sequence(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """``[function(item) for item in items]``, SEQUENCE_THREADS items at a time; results in the items' order, and
    the error of the first item (in that order) that raised, as the loop would raise it."""
    items = list(items)
    if len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(min(SEQUENCE_THREADS, len(items)), thread_name_prefix="sequence") as pool:
        return list(pool.map(function, items))
