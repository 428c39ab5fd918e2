"""Where a run's tasks execute: threads in one process, a local process pool, or a Dask cluster.

Prefect fixes a flow's task runner when the flow is defined, so a run picks one at call time with
`flow.with_options(task_runner=...)`. Everything passed to a task under `processes` or `dask` is pickled.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import Flow
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from maturity.config_models import TaskRunners
from maturity.extras import require_extra
from maturity.settings import load_orchestration_config
from operations.prefect_api import ensure_prefect_api


def task_runner_config() -> TaskRunners:
    """The task_runners section of config/orchestration.yaml."""
    return load_orchestration_config().task_runners


def worker_count() -> int:
    """Worker processes for a process pool or a local Dask cluster: configured, else one per core."""
    return task_runner_config().workers or os.cpu_count() or 1


def build_task_runner(kind: str, dask_address: str | None = None) -> TaskRunner:
    """The task runner named by --task-runner; --dask-address only goes with dask."""
    config = task_runner_config()
    if kind not in config.choices:
        raise ValueError(f"task runner must be one of {', '.join(config.choices)}, not {kind!r}")
    if dask_address and kind != "dask":
        raise ValueError("a Dask scheduler address goes with the dask task runner only")
    if kind == "threads":
        return ThreadPoolTaskRunner()
    if kind == "processes":
        return ProcessPoolTaskRunner(max_workers=worker_count())
    return build_dask_task_runner(dask_address)


def build_dask_task_runner(address: str | None) -> TaskRunner:
    """A Dask task runner on the scheduler at address, else on a local cluster of processes for the run."""
    require_extra("dask")  # an optional extra: one line, not an ImportError
    from prefect_dask import DaskTaskRunner  # deferred: importing Dask costs time a threads run never needs

    if address:
        return DaskTaskRunner(address=address)
    cluster = {
        "n_workers": worker_count(),
        "threads_per_worker": task_runner_config().dask_threads_per_worker,
        "processes": True,
        "dashboard_address": None,  # no web dashboard: nothing listens on a port the user did not ask for
    }
    return DaskTaskRunner(cluster_kwargs=cluster)


def parallel_workers() -> int:
    """How many CPU-bound tasks the running flow's task runner can usefully run at once.

    Threads share one interpreter lock, so for them it is one; a process pool or Dask cluster, its workers.
    """
    return 1 if submits_in_this_process() else worker_count()


def submits_in_this_process() -> bool:
    """Whether the running flow's submitted tasks run in this process (threads), not in other processes."""
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    runner = context.task_runner if context else None
    return runner is None or isinstance(runner, ThreadPoolTaskRunner)


@contextmanager
def local_run_settings() -> Iterator[None]:
    """Prefect settings for a flow run started here rather than by a worker (config/orchestration.yaml)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if load_orchestration_config().local_run_heartbeats:
        yield
        return
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def run_with_task_runner(
    flow: Flow[..., Any], task_runner: str | None = None, dask_address: str | None = None, **parameters: Any
) -> Any:
    """Run a flow here with the task runner chosen (the configured default if none), passing it parameters."""
    kind = task_runner or task_runner_config().default
    # Before the task runner starts workers: they inherit the API's address from the environment.
    ensure_prefect_api()
    with local_run_settings():
        return flow.with_options(task_runner=build_task_runner(kind, dask_address))(**parameters)
