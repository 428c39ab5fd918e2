"""The national flow gives byte-identical outputs on threads, a process pool and a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.task_runners import ThreadPoolTaskRunner

from flows.national import national_run
from flows.runners import run_with_task_runner, worker_count
from tests.integration.conftest import DemoRun
from tests.integration.test_runs_and_reruns import fingerprint


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """A local Dask cluster of worker processes, started by the test; yields its scheduler address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=worker_count(), threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def dask_tasks_run(address: str) -> int:
    """How many task runs the Dask scheduler at address has been given so far."""
    from distributed import Client

    with Client(address) as client:
        return client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes))


def test_outputs_are_byte_identical_on_threads_processes_and_dask(
    demo_run: DemoRun, demo_study: Path, tmp_path: Path, dask_cluster: str
) -> None:
    # The session's run of the demo ran on threads, the flow's default task runner: the reference.
    assert isinstance(national_run.task_runner, ThreadPoolTaskRunner)
    outputs = {"threads": fingerprint(demo_run.out)}
    for runner, address in (("processes", None), ("dask", dask_cluster)):
        out = tmp_path / runner
        summary = run_with_task_runner(national_run, runner, address, inputs=demo_study, out=out)
        assert len(summary.reports) == 46 + 1  # 46 reports and the site index
        outputs[runner] = fingerprint(out)
    assert dask_tasks_run(dask_cluster) > 0  # the tasks really ran on the cluster at the address
    reference = outputs["threads"]
    assert sum(name.endswith(".parquet") for name in reference) > 200
    assert sum(name.endswith(".csv") for name in reference) >= 4
    assert sum(name.endswith(".html") for name in reference) == 46 + 1
    assert outputs["processes"] == reference
    assert outputs["dask"] == reference
