"""Admission control: at most ``slots`` studies read and scored at once, a bounded queue waiting, the rest refused.

A caller first takes a place (``enter``: refused at once with ``ServiceBusy`` when every slot and every queue place
is taken), then waits its turn for a slot (``slot``: first come, first served; ``ServiceBusy`` after ``timeout_s``).
The REST API takes its place only once the upload has fully arrived, so a client that sends headers and then
nothing holds no place; the uploads being received are bounded apart (``receiving``: at most ``max_receiving`` at
once, holding at most ``receiving_bytes`` together, each dropped by core/api/upload.py when it stalls). The slot
is taken only after staging (files on disk), because reading the series is what allocates the volumes. The default
number of slots comes from the machine's cores and memory (``default_slots``).

Within their slots, studies share the CPU without oversubscribing it (measured on a 2-core machine):
  - a slot says how many torch threads its study should use (``Slot.threads``, applied with ``use_cpu_share``): all
    cores when it is alone in the gate, an equal share when others hold places too. Two OpenMP threads on two busy
    cores wait for each other at every barrier: preprocessing and scoring a small study measured 1.08 s with two
    threads beside a GIL-bound reader and 0.52 s with one (0.35 s with two when alone);
  - reading the series is GIL-bound Python (pydicom headers), so studies take turns at it (``reading``): two reads at
    once measured 2.7 s against 2 x 1.0 s one after the other, four at once 9.0 s against 4 x 1.0 s.

Example::

    gate = AdmissionGate(slots=1, queue_size=1, timeout_s=60)
    with gate.enter() as place, gate.slot(place) as slot:
        use_cpu_share(slot.threads)
        with gate.reading:
            ...  # read the series
        ...  # preprocess and score
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import ServiceBusy

STUDY_BUDGET_BYTES = 1024**3
"""Memory set aside per slot. Measured on the RSNA-size study (FLAIR 400, T1w 33, T1wCE 129, T2w 408 slices of
512x512): +0.61 GB of peak RSS over the loaded app for one study, +1.15 GB for two at once (benchmarks/load.py
prints the app's peak); 1 GiB keeps headroom for studies somewhat larger than that."""
PROCESS_RESERVE_BYTES = 1024**3
"""Memory kept for the app itself: the loaded model, torch, MONAI and Streamlit measured 0.6 GB of RSS."""
UPLOAD_BUDGET_BYTES = 512 * 1024**2
"""Memory set aside per queue place: a waiting REST request keeps its upload, and the multipart parser holds every
file under 1 MiB in memory (a .zip goes to disk): four RSNA-size studies sent as ~1,000 files each measured +1.7 GB
of peak RSS over the same sent as .zip files."""
QUEUE_PER_SLOT = 4
RECEIVING_WANTED = 32
"""Uploads received at once by default: a connection that sends nothing costs a socket, not memory (what arrives is
bounded by ``receiving_bytes``), so there are more places than a handful of stalled clients can fill."""
FIRST_RETRY_AFTER_S = 5
"""What a refusal suggests before any prediction has been timed (an RSNA-size study takes a few seconds)."""
MAX_RETRY_AFTER_S = 300


@dataclass(frozen=True)
class Slot:
    """A granted slot: how long the caller waited for it, and the torch threads its study should use."""

    waited_s: float
    threads: int


@dataclass(frozen=True)
class AdmissionStatus:
    """The gate now: its limits; the studies holding a slot (``active``), in line for one (``waiting``), and holding a
    queue place before that (``staging``: their upload has arrived and is being staged); requests refused so far
    (no place, no slot in time, or no room to receive); uploads whose body is still arriving (``receiving``, at most
    ``max_receiving``) and the bytes they have brought so far (``receiving_bytes``)."""

    slots: int
    queue_size: int
    active: int
    waiting: int
    staging: int
    refused: int
    receiving: int = 0
    max_receiving: int = 0
    receiving_bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Place:
    """A caller's place in the gate, taken by ``AdmissionGate.enter`` and given back by ``leave`` or the with block."""

    def __init__(self, gate: AdmissionGate) -> None:
        self.gate = gate
        self.held = True

    def leave(self) -> None:
        """Give the place back (once; later calls do nothing)."""
        self.gate._leave(self)

    def __enter__(self) -> Place:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.leave()


class Reception:
    """An upload being received in a gate: ``charge`` the bytes as they arrive (ServiceBusy past the gate's
    ``receiving_bytes``)."""

    def __init__(self, gate: AdmissionGate, retry_after_s: int) -> None:
        self.gate, self.retry_after_s, self.charged = gate, retry_after_s, 0

    def charge(self, size: int) -> None:
        self.gate._charge(self, size)


class AdmissionGate:
    """A bounded number of active slots and a bounded queue of places; thread-safe, slots granted in arrival order."""

    def __init__(self, slots: int, queue_size: int, timeout_s: float, cores: int | None = None,
                 max_receiving: int = RECEIVING_WANTED, receiving_bytes: int | None = None) -> None:
        if slots < 1 or queue_size < 0 or timeout_s < 0 or max_receiving < 1:
            raise ValueError(f"AdmissionGate(slots={slots}, queue_size={queue_size}, timeout_s={timeout_s}, "
                             f"max_receiving={max_receiving}); expected slots >= 1, queue_size >= 0, timeout_s >= 0 "
                             "and max_receiving >= 1.")
        self.slots, self.queue_size, self.timeout_s = slots, queue_size, timeout_s
        self.max_receiving = max_receiving
        self.receiving_bytes = receiving_bytes
        """The bytes all uploads being received may hold together (None: no bound)."""
        self._receiving = 0
        self._received = 0
        self.cores = cores or available_cores()
        self.reading = threading.Lock()
        """Held while a study's series are read: one at a time (GIL-bound)."""
        self._changed = threading.Condition()
        self._places = 0
        self._active = 0
        self._line: deque[object] = deque()  # callers waiting for a slot, first come first served
        self._refused = 0
        self._mean_hold_s: float | None = None  # moving average of how long a slot is held

    @property
    def capacity(self) -> int:
        """Places in all: the active slots plus the queue."""
        return self.slots + self.queue_size

    def status(self) -> AdmissionStatus:
        with self._changed:
            waiting = len(self._line)
            return AdmissionStatus(self.slots, self.queue_size, self._active, waiting,
                                   self._places - self._active - waiting, self._refused, self._receiving,
                                   self.max_receiving, self._received)

    @contextmanager
    def receiving(self, retry_after_s: int) -> Iterator[Reception]:
        """Hold one of ``max_receiving`` places for an upload whose body is arriving; ServiceBusy at once (counted,
        suggesting ``retry_after_s``: when a stalled one is dropped at the latest) when all are taken. The
        ``Reception`` yielded charges the bytes as they arrive; they are given back when the block ends."""
        with self._changed:
            if self._receiving >= self.max_receiving:
                raise self._refusal(f"it is receiving {self._receiving} uploads, its most at once", retry_after_s)
            self._receiving += 1
        reception = Reception(self, retry_after_s)
        try:
            yield reception
        finally:
            with self._changed:
                self._receiving -= 1
                self._received -= reception.charged

    def _charge(self, reception: Reception, size: int) -> None:
        with self._changed:
            if self.receiving_bytes is not None and self._received + size > self.receiving_bytes:
                raise self._refusal(f"the uploads it is receiving hold {self._received:,} bytes, its most at once "
                                    f"is {self.receiving_bytes:,}", reception.retry_after_s)
            self._received += size
            reception.charged += size

    def _refusal(self, reason: str, retry_after_s: int) -> ServiceBusy:
        """A counted refusal while receiving. Call with ``_changed`` held."""
        self._refused += 1
        return ServiceBusy(f"The service is busy: {reason}; please try again in {retry_after_s} s.",
                           retry_after_s=retry_after_s)

    def enter(self) -> Place:
        """A place in the gate now, or ServiceBusy at once when all ``capacity`` places are taken."""
        with self._changed:
            if self._places >= self.capacity:
                raise self._busy(f"The service is busy: it is analysing {self._active} of at most {self.slots} "
                                 f"studies at once and its queue of {self.queue_size} is full")
            self._places += 1
            return Place(self)

    def _leave(self, place: Place) -> None:
        with self._changed:
            if place.held:
                place.held = False
                self._places -= 1

    @contextmanager
    def slot(self, place: Place) -> Iterator[Slot]:
        """Hold a slot for the block, after the callers who asked before; ServiceBusy after ``timeout_s``."""
        if place.gate is not self or not place.held:
            raise ValueError("slot() needs a place held in this gate; take one with enter() first.")
        asked = time.monotonic()
        turn = object()
        with self._changed:
            self._line.append(turn)
            try:
                while not (self._line[0] is turn and self._active < self.slots):
                    remaining = asked + self.timeout_s - time.monotonic()
                    if remaining <= 0:
                        raise self._busy(f"The service is busy: no place to analyse the study came free within "
                                         f"{self.timeout_s:g} s")
                    self._changed.wait(min(remaining, 3600.0))  # an infinite timeout is allowed
            except BaseException:
                self._line.remove(turn)
                self._changed.notify_all()  # whoever was behind moves up
                raise
            self._line.popleft()
            self._active += 1
            self._changed.notify_all()  # the next in line may fit too
            threads = max(1, self.cores // min(self._places, self.cores))  # everyone in the gate uses the CPU
        started = time.monotonic()
        try:
            yield Slot(started - asked, threads)
        finally:
            with self._changed:
                self._active -= 1
                held = time.monotonic() - started
                self._mean_hold_s = held if self._mean_hold_s is None else 0.8 * self._mean_hold_s + 0.2 * held
                self._changed.notify_all()

    def _busy(self, reason: str) -> ServiceBusy:
        """A refusal (counted) that says when to try again: the queue ahead served by the slots at the usual pace.
        Call with ``_changed`` held."""
        self._refused += 1
        if self._mean_hold_s is None:
            wait = FIRST_RETRY_AFTER_S
        else:
            rounds = (self._places - self._active) / self.slots + 1
            wait = max(1, min(MAX_RETRY_AFTER_S, math.ceil(self._mean_hold_s * rounds)))
        return ServiceBusy(f"{reason}; please try again in {wait} s.", retry_after_s=wait)


def use_cpu_share(threads: int) -> None:
    """Let torch use ``threads`` intra-op threads in the calling thread. OpenMP keeps the count per thread, so the
    other studies' threads keep theirs (threads that have not used torch yet start from it). torch is imported here:
    the model has loaded it by then."""
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def available_cores() -> int:
    """CPU cores this process may use: its affinity, capped by a cgroup v2 CPU quota (containers, Spaces)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = _read_text(Path("/sys/fs/cgroup/cpu.max")).split()
    if len(quota) == 2 and quota[0].isdigit() and quota[1].isdigit() and int(quota[1]) > 0:
        cores = min(cores, max(1, math.ceil(int(quota[0]) / int(quota[1]))))
    return max(1, cores)


def available_memory_bytes() -> int | None:
    """Memory the process can still take: MemAvailable, capped by the headroom of a cgroup limit; None if unknown."""
    candidates = []
    for line in _read_text(Path("/proc/meminfo")).splitlines():
        if line.startswith("MemAvailable:"):
            candidates.append(int(line.split()[1]) * 1024)
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_text(Path(limit_file)).strip(), _read_text(Path(usage_file)).strip()
        if limit.isdigit() and usage.isdigit() and int(limit) < 1 << 60:  # "max" or a huge number: no limit
            candidates.append(max(0, int(limit) - int(usage)))
    return min(candidates) if candidates else None


def default_slots(cores: int, memory_bytes: int | None) -> int:
    """Studies at once by default: one per core, as long as each gets ``STUDY_BUDGET_BYTES`` after the app's
    reserve; at least one. Unknown memory counts as enough."""
    by_memory = cores if memory_bytes is None else (memory_bytes - PROCESS_RESERVE_BYTES) // STUDY_BUDGET_BYTES
    return max(1, min(cores, int(by_memory)))


def default_queue_size(slots: int, memory_bytes: int | None) -> int:
    """Queue places by default: ``QUEUE_PER_SLOT`` per slot, fewer when what memory is left after the app and the
    slots cannot hold that many uploads (``UPLOAD_BUDGET_BYTES`` each); at least one."""
    wanted = QUEUE_PER_SLOT * slots
    if memory_bytes is None:
        return wanted
    left = memory_bytes - PROCESS_RESERVE_BYTES - slots * STUDY_BUDGET_BYTES
    return max(1, min(wanted, left // UPLOAD_BUDGET_BYTES))


def default_receiving_bytes(slots: int, queue_size: int, memory_bytes: int | None) -> int | None:
    """What uploads being received may hold together by default: the memory left after the app, the slots and the
    queue (at least ``UPLOAD_BUDGET_BYTES``); None (no bound) when memory is unknown."""
    if memory_bytes is None:
        return None
    left = memory_bytes - PROCESS_RESERVE_BYTES - slots * STUDY_BUDGET_BYTES - queue_size * UPLOAD_BUDGET_BYTES
    return max(UPLOAD_BUDGET_BYTES, left)


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:  # not Linux, or no cgroup file of that name
        return ""
