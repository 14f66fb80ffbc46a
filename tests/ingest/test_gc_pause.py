"""The garbage collector is paused during ingest and restored after, also across overlapping threads."""

from __future__ import annotations

import gc
import threading

from core.ingest.gc_pause import collector_paused


def test_collector_is_restored_after_the_block() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collector_stays_off_until_the_last_overlapping_reader_leaves() -> None:
    inside, release = threading.Event(), threading.Event()

    def reader() -> None:
        with collector_paused():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=reader)
    thread.start()
    inside.wait(5)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the other reader is still inside
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_collector_left_off_if_it_was_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
