"""Score the studies of a cohort with the engine asked for: ``local`` threads (default) or a ``ray`` cluster.

Both give one CaseResult per case, in any order: a study that cannot be read (an InputError) is a failed
result with its reason and the run goes on; anything else is a bug and stops the run. The probabilities do not
depend on the engine (the model is deterministic; a test holds them equal to 1e-6).

Example:
    >>> predictor = Predictor.load()
    >>> results = score_studies({"00000": Path("cohort/train/00000")}, predictor, engine="local")
    >>> results[0].status
    'ok'
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from core.errors import InputError
from core.scoring.results import CaseResult
from core.scoring.tasks import Task, score_one

if TYPE_CHECKING:
    from core.inference import Predictor  # imports torch: for the type only

ENGINES = ("local", "ray")
"""local: threads of this process share one model; ray: one model per Ray worker, on this machine or a cluster."""
Progress = Callable[[CaseResult], None]
"""Called once per finished case (from the calling thread), e.g. to advance a progress bar."""


def checked_engine(name: str) -> str:
    """``name`` if it is one of ENGINES; InputError suggesting the nearest otherwise."""
    if name not in ENGINES:
        close = difflib.get_close_matches(name, ENGINES, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(f"--engine is '{name}'; expected one of {', '.join(ENGINES)}{hint}.")
    return name


def score_locally(folders: dict[str, Path], predictor: Predictor, workers: int,
                  progress: Progress, task: Task = score_one) -> list[CaseResult]:
    """Read and preprocess ``workers`` studies at once on threads; model passes take turns on the one model."""
    results = []
    pool = ThreadPoolExecutor(workers, thread_name_prefix="batch")
    try:
        futures = [pool.submit(task, predictor, case, folder) for case, folder in folders.items()]
        for future in as_completed(futures):
            results.append(future.result())
            progress(results[-1])
    finally:
        pool.shutdown(cancel_futures=True)  # on Ctrl-C or a bug, the queued studies are not read any more
    return results


def score_studies(folders: dict[str, Path], predictor: Predictor, *, engine: str = "local", workers: int = 1,
                  address: str | None = None, quiet: bool = False,
                  progress: Progress | None = None, task: Task = score_one) -> list[CaseResult]:
    """One result per case of ``folders`` (case id -> study folder), scored by ``predictor``'s model on the engine:
    ``local`` threads, or ``workers`` Ray workers on the cluster at ``address`` (a local one started for the run
    when None). A progress bar shows unless ``quiet``; ``progress`` is told of each finished case too; ``task``
    is what is done with each study (default: score it)."""
    checked_engine(engine)
    if workers < 1:
        raise InputError(f"--workers is {workers}; expected at least 1.")
    if engine == "local" and address is not None:
        raise InputError(f"--address {address} names a Ray cluster; expected it only with --engine ray.")
    bar = tqdm(total=len(folders), desc=f"batch ({engine})", unit="case", disable=quiet)

    def advance(result: CaseResult) -> None:
        bar.update()
        if progress is not None:
            progress(result)

    try:
        if engine == "ray":
            from core.scoring.ray_cluster import score_on_ray  # ray is optional (requirements-scale.txt)

            return score_on_ray(folders, predictor.source, workers, address, advance, task=task)
        return score_locally(folders, predictor, workers, advance, task)
    finally:
        bar.close()
