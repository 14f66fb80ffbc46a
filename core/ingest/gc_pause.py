"""Pause Python's cyclic garbage collector while thousands of DICOM headers are alive at once.

Reading an RSNA-size study creates ~1,000 datasets of ~60 elements each; the collector would rescan
them again and again (measured: up to 0.25 s of 0.5 s). Nothing in ingest makes reference cycles that
need collecting, and refcounting frees everything as usual. Safe across threads: the collector comes
back when the last concurrent reader leaves, and only if it was on before.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_readers = 0
_was_enabled = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Disable cyclic garbage collection for the duration of the block."""
    global _readers, _was_enabled
    with _lock:
        if _readers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _was_enabled:
                gc.enable()
