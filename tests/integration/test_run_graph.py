"""The run's graph in Prefect's UI: a task run is linked to the task runs whose results it was given."""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from maturity.settings import registry_url
from tests.integration.conftest import DemoRun
from warehouse import registry

# Task runs reach Prefect's database through its events pipeline, a moment after they end.
GRAPH_WAIT_SECONDS = 60
POLL_SECONDS = 0.5


def prefect_flow_run_id(demo_run: DemoRun) -> uuid.UUID:
    """The Prefect flow run of the demo run, as the run registry recorded it."""
    url = registry_url(demo_run.out)
    with registry.registry_engine(url).connect() as connection:
        found = connection.execute(
            sa.select(registry.Run.prefect_flow_run_id).where(registry.Run.id == demo_run.summary.run_id)
        ).scalar_one()
    return uuid.UUID(found)


def task_runs_by_name(flow_run_id: uuid.UUID) -> dict[str, Any]:
    """The flow run's task runs by name, once every task the graph test reads has been recorded."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    deadline = time.monotonic() + GRAPH_WAIT_SECONDS
    with get_client(sync_client=True) as client:
        while True:
            runs = {run.name: run for run in client.read_task_runs(flow_run_filter=flow_runs)}
            if any(name.startswith("finish-reports") for name in runs) or time.monotonic() > deadline:
                return runs
            time.sleep(POLL_SECONDS)


def one(runs: dict[str, Any], prefix: str) -> Any:
    """The task run whose name starts with prefix (Prefect adds a suffix to a task's name)."""
    found = [run for name, run in runs.items() if name.startswith(prefix)]
    assert len(found) == 1, (prefix, sorted(runs))
    return found[0]


def upstream_of(run: Any, parameter: str) -> set[uuid.UUID]:
    """The task runs whose results the task run was given as this parameter."""
    return {link.id for link in run.task_inputs.get(parameter, []) if link.input_type == "task_run"}


def test_each_task_run_is_linked_to_the_task_runs_it_took_results_from(demo_run: DemoRun) -> None:
    runs = task_runs_by_name(prefect_flow_run_id(demo_run))
    scores = one(runs, "score-change").id  # the last of the scoring steps returns the scores
    assert scores in upstream_of(one(runs, "control-disclosure"), "scores")
    assert scores in upstream_of(one(runs, "plan-release"), "scores")
    assert one(runs, "control-disclosure").id in upstream_of(one(runs, "plan-release"), "answers")
    assert one(runs, "plan-release").id in upstream_of(one(runs, "publish-open-data"), "plan")
    assert one(runs, "plan-reports").id in upstream_of(one(runs, "render-"), "inputs")
    validations = {run.id for name, run in runs.items() if name.startswith("validate-")}
    assert len(validations) == 9
    assert upstream_of(one(runs, "reconcile-response-counts"), "tables") == validations
