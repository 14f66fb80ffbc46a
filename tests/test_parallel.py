"""each_sequence: the loop's results and the loop's error, with two sequences worked on at once."""

from __future__ import annotations

import threading
import time

import pytest

from core.parallel import SEQUENCE_THREADS, each_sequence


def test_results_come_in_the_items_order_however_long_each_takes() -> None:
    def slow_first(item: int) -> tuple[int, str]:
        time.sleep(0.05 * (4 - item))
        return item * item, threading.current_thread().name

    results = each_sequence(slow_first, range(4))
    assert [value for value, _ in results] == [0, 1, 4, 9]
    assert len({name for _, name in results}) == SEQUENCE_THREADS == 2


def test_the_first_failing_item_in_order_raises_even_when_a_later_one_failed_sooner() -> None:
    def fail(item: str) -> str:
        if item == "T1w":
            time.sleep(0.1)
            raise ValueError("T1w is damaged")
        if item == "T2w":
            raise ValueError("T2w is damaged")
        return item

    with pytest.raises(ValueError, match="T1w is damaged"):
        each_sequence(fail, ["FLAIR", "T1w", "T1wCE", "T2w"])
    assert each_sequence(str.lower, ["FLAIR"]) == ["flair"]
