"""The stage bars follow a real flow run's events from a real Prefect server (the session's test server).

A tiny flow whose tasks carry names that config/orchestration.yaml puts in the extract and validate
stages, one with a task run name of its own (the event's task_key, not the run's name, gives the task),
one failing without failing the flow. If Prefect stopped emitting what operations/progress.py reads
(the state type label, the related flow run, the task_key), the counts here would stay at zero.
"""

from __future__ import annotations

import io
import logging

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner
from rich.console import Console

from operations.progress import HOOK_NAME, followed, show_run_progress


@task(name="extract", task_run_name="extract-{dataset}")
def extract(dataset: str) -> str:
    return dataset


@task(name="validate")
def validate(dataset: str) -> str:
    if dataset == "broken":
        raise ValueError("broken.csv cannot be trusted")
    return dataset


@flow(name="progress-events-test", task_runner=ThreadPoolTaskRunner(max_workers=2))
def tiny_run() -> list[str]:
    datasets = [extract.submit(name) for name in ("invitations", "responses", "broken")]
    checked = [validate.submit(dataset) for dataset in datasets]
    for future in checked:
        future.wait()
    return [future.result() for future in checked if future.state.is_completed()]


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_bars_follow_a_real_flow_runs_events() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    lines = Lines()
    logging.getLogger("prefect").addHandler(lines)
    try:
        with show_run_progress(console, [], task_packages=("tests",)) as display:
            assert followed(tiny_run)() == ["invitations", "responses"]
    finally:
        logging.getLogger("prefect").removeHandler(lines)
    stages = {stage.name: stage for stage in display.tracker.stages}
    assert (stages["extract"].finished_tasks, stages["extract"].failed_tasks) == (3, 0)
    assert (stages["validate"].finished_tasks, stages["validate"].failed_tasks) == (3, 1)
    assert display.tracker.stages_done == len(stages), "the flow run's Completed event ends every stage"
    assert "✓ publish" in screen.getvalue()
    assert not [m for m in lines.messages if HOOK_NAME in m], "Prefect's lines about the hook are hidden"
