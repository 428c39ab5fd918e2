"""Stage progress bars: read off the run log's 'Finished in state' lines, stages in order, log above."""

from __future__ import annotations

import importlib
import io
import logging
import pkgutil

import pytest
from rich.console import Console

import flows
import tasks
from maturity.settings import load_orchestration_config
from operations.progress import Stage, StageTracker, show_run_progress


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tracker(clock: Clock) -> StageTracker:
    return StageTracker.from_config(clock=clock)


def stage(tracker: StageTracker, name: str) -> Stage:
    return next(s for s in tracker.stages if s.name == name)


def test_stages_come_from_config_in_order(tracker: StageTracker) -> None:
    names = [s.name for s in tracker.stages]
    assert names == ["start", "extract", "validate", "load", "score", "reports", "publish"]
    assert tracker.stages[0].started_at == 0.0
    assert tracker.stages_done == 0


def test_a_later_stage_finishing_work_completes_every_earlier_stage(
    tracker: StageTracker, clock: Clock
) -> None:
    clock.now = 7.0
    assert tracker.task_finished("open-run", completed=True) == 1
    assert stage(tracker, "start").done_at == 7.0, "the start ends when the first task finishes"
    assert stage(tracker, "extract").started_at == 7.0
    clock.now = 8.0
    for _ in range(9):
        tracker.task_finished("extract", completed=True)
    tracker.task_finished("validate", completed=True)
    assert stage(tracker, "extract").finished_tasks == 10
    assert stage(tracker, "extract").done_at == 8.0
    assert not stage(tracker, "validate").done
    assert tracker.current == 2
    assert tracker.stages_done == 2


def test_tasks_no_stage_lists_move_nothing(tracker: StageTracker) -> None:
    assert tracker.task_finished("something-else", completed=True) is None
    assert tracker.stages_done == 0
    assert all(s.finished_tasks == 0 for s in tracker.stages)


def test_a_failed_run_stops_where_it_was_and_a_completed_one_finishes_all(tracker: StageTracker) -> None:
    tracker.task_finished("validate", completed=False)
    tracker.run_finished(completed=False)
    assert stage(tracker, "validate").failed_tasks == 1
    assert [s.done for s in tracker.stages] == [True, True, False, False, False, False, False]
    tracker.run_finished(completed=True)
    assert tracker.stages_done == len(tracker.stages)


def test_every_task_of_the_flows_belongs_to_exactly_one_stage() -> None:
    """A task added to a flow but not to config/orchestration.yaml would move no bar."""
    from prefect import Task

    names = set()
    for package in (tasks, flows):
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            names |= {obj.name for obj in vars(module).values() if isinstance(obj, Task)}
    listed = [t for s in load_orchestration_config()["progress"]["stages"] for t in s["tasks"]]
    assert len(listed) == len(set(listed)), "a task is listed in two stages"
    assert names == set(listed)


def test_bars_follow_the_run_log_and_log_lines_print_above_them() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    own_stream = io.StringIO()
    handler = logging.StreamHandler(own_stream)
    handler.setFormatter(logging.Formatter("%(levelname)s | %(message)s"))
    task_log = logging.getLogger("prefect.task_runs")
    flow_log = logging.getLogger("prefect.flow_runs")
    task_log.addHandler(handler)
    flow_log.addHandler(handler)
    try:
        with show_run_progress(console, [handler]) as display:
            task_log.info(
                "invitations.csv: 132 rows read", extra={"task_name": "validate", "send_to_api": False}
            )
            task_log.info(
                "Finished in state Completed()", extra={"task_name": "extract", "send_to_api": False}
            )
            task_log.info(
                "Finished in state Completed()", extra={"task_name": "validate", "send_to_api": False}
            )
            assert display.tracker.current == 2
            flow_log.info("Finished in state Completed()", extra={"send_to_api": False})
    finally:
        task_log.removeHandler(handler)
        flow_log.removeHandler(handler)
    assert own_stream.getvalue() == "", "lines go through the live console, not over the bars"
    output = screen.getvalue()
    assert "INFO | invitations.csv: 132 rows read" in output
    assert "✓ validate" in output
    assert "✓ publish" in output, "a completed run completes every stage"
    assert not [f for f in task_log.filters if type(f).__name__ == "_StageProgress"], "the watcher is removed"
    assert handler.filters == [], "the display leaves the handlers as it found them"
