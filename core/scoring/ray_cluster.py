"""The Ray engine: studies spread over Ray workers (actors), each loading the model once.

Without an address a private Ray is started on this machine for the run (one CPU per worker, no dashboard,
no usage statistics) and stopped after it. Its processes listen on the machine's address (Ray replaces 127.0.0.1
by it), guarded by Ray's cluster token (on by default); nothing is sent anywhere. With ``--address``
(``ray://host:10001`` or ``host:6379``) the run joins that cluster: every node needs this code and its
requirements installed and the study folders at the same path (shared storage), and loads a Hub model by its
commit hash (a local model folder must be at the same path on every node too).

A worker that dies (killed, out of memory, node lost) is restarted and the studies it held are run again
(``MAX_RESTARTS``, ``MAX_TASK_RETRIES``); a study still unscored after that is a failed result saying so, and the
run goes on with the other workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import cycle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InputError, ModelUnavailable, SettingsError
from core.scoring.results import CaseResult
from core.scoring.tasks import score_one

if TYPE_CHECKING:
    from core.model.hub import ModelSource

MAX_RESTARTS = 3
"""Times a dead worker is started again (each time reloading the model)."""
MAX_TASK_RETRIES = 3
"""Times a study held by a worker that died is run again, on the restarted worker."""
IN_FLIGHT = 2
"""Studies queued per worker: one running, one ready to start as soon as it finishes."""
ROOT = Path(__file__).resolve().parents[2]


def _ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise SettingsError("--engine ray needs Ray, but its package ray is not installed; expected `pip install -r "
                            "requirements-scale.txt` (or --engine local).") from err
    return ray


class StudyScorer:
    """One Ray worker: loads the model once, then does ``task`` (default: scoring) to one study folder per call."""

    def __init__(self, repo_or_dir: str, revision: str | None, task: Callable[..., CaseResult] | None = None) -> None:
        from core.inference import Predictor

        self.predictor = Predictor.load(repo_or_dir, revision)
        self.task = task

    def ready(self) -> int:
        """The worker's process id, once its model is loaded."""
        return os.getpid()

    def score(self, case: str, folder: str) -> CaseResult:
        return (self.task or score_one)(self.predictor, case, Path(folder))


def model_reference(source: ModelSource) -> tuple[str, str | None]:
    """What workers load: a Hub repo at the exact commit the driver loaded, or the model folder by absolute path."""
    if source.revision == "local":
        return str(Path(source.folder).resolve()), None
    return source.repo, source.revision


def start_local(workers: int) -> Any:
    """Start a private Ray on this machine: ``workers`` CPUs, no dashboard, no usage statistics."""
    ray = _ray()
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never report usage, also from the processes Ray starts
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="warning",
             runtime_env={"env_vars": {"PYTHONPATH": python_path}})
    return ray


@contextmanager
def connected(address: str | None, workers: int) -> Iterator[Any]:
    """Ray connected to the cluster at ``address``, or to a private local one started for the block."""
    ray = _ray()
    if ray.is_initialized():  # a caller (a test, a notebook) already connected: use that cluster as it is
        yield ray
        return
    if address is None:
        start_local(workers)
    else:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        try:
            ray.init(address=address, log_to_driver=False, logging_level="warning")
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise InputError(f"--address {address}: no Ray cluster answers there ({err}); expected the address "
                             "of a running cluster (`ray start --head` prints it), or no --address for a local "
                             "one.") from err
    try:
        yield ray
    finally:
        ray.shutdown()


def start_workers(ray: Any, source: ModelSource, workers: int,
                  task: Callable[..., CaseResult] | None = None) -> list[Any]:
    """``workers`` actors with the model loaded; ModelUnavailable when they cannot load it."""
    remote = ray.remote(num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=MAX_TASK_RETRIES)(StudyScorer)
    actors = [remote.remote(*model_reference(source), task) for _ in range(workers)]
    try:
        ray.get([actor.ready.remote() for actor in actors])
    except ray.exceptions.RayError as err:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        raise ModelUnavailable(f"The Ray workers could not load the model '{source.repo}' (revision "
                               f"{source.revision}): {str(err).strip().splitlines()[-1][:300]}; expected it "
                               "readable on every node of the cluster.") from err
    return actors


def score_on_ray(folders: dict[str, Path], source: ModelSource, workers: int, address: str | None,
                 progress: Callable[[CaseResult], None], on_started: Callable[[list[Any]], None] | None = None,
                 task: Callable[..., CaseResult] | None = None) -> list[CaseResult]:
    """One result per case, by ``workers`` Ray workers doing ``task`` (default: scoring); ``on_started`` gets the
    workers (for tests)."""
    with connected(address, workers) as ray:
        actors = start_workers(ray, source, workers, task)
        if on_started is not None:
            on_started(actors)
        try:
            return _spread(ray, actors, folders, progress)
        finally:
            for actor in actors:
                ray.kill(actor, no_restart=True)


def _spread(ray: Any, actors: list[Any], folders: dict[str, Path],
            progress: Callable[[CaseResult], None]) -> list[CaseResult]:
    """Keep IN_FLIGHT studies queued per live worker until every case has a result."""
    waiting = iter(folders.items())
    pending: dict[Any, tuple[str, Any]] = {}
    live = list(actors)
    turns = cycle(live)

    def submit(actor: Any) -> None:
        for case, folder in waiting:
            pending[actor.score.remote(case, str(Path(folder).resolve()))] = (case, actor)
            return

    for actor in live:
        for _ in range(IN_FLIGHT):
            submit(actor)
    results = []
    while pending:
        [done], _ = ray.wait(list(pending), num_returns=1)
        case, actor = pending.pop(done)
        try:
            result = ray.get(done)
        except ray.exceptions.RayActorError as err:  # died more often than it may restart, or its node is gone
            result = CaseResult.failed(case, f"its Ray worker died and was restarted {MAX_RESTARTS} times "
                                             f"({type(err).__name__}); study not scored")
            if actor in live:
                live.remove(actor)
                turns = cycle(live)
        except ray.exceptions.RayTaskError as err:  # a bug in scoring: surfaces as the original exception
            raise err.as_instanceof_cause() from None
        results.append(result)
        progress(result)
        if live:
            submit(actor if actor in live else next(turns))
    unscored = [case for case, _ in waiting]  # left only when every worker died
    for case in unscored:
        results.append(CaseResult.failed(case, "every Ray worker died; study not scored"))
        progress(results[-1])
    return results
