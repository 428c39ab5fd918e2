"""Stage progress bars: moved by Prefect's task-run events (fed here by hand), stages in order, log above.

The same against a real Prefect server and flow run: tests/integration/test_progress_events.py.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import logging
import pickle
import pkgutil
import queue
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest
from prefect import Task
from prefect.events import Event
from prefect.events.filters import EventFilter
from rich.console import Console

import flows
import tasks
from maturity.settings import load_orchestration_config
from operations.progress import (
    HOOK_NAME,
    TASK_PACKAGES,
    PrefectEvents,
    RunEvents,
    Stage,
    StageTracker,
    TaskNames,
    _followers,
    follow_run_progress,
    followed,
    show_run_progress,
)


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


def pipeline_tasks() -> list[Task]:
    """Every Task object the pipeline's packages define (importing all their modules)."""
    found = []
    for package in (tasks, flows):
        assert package.__name__ in TASK_PACKAGES
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            found += [obj for obj in vars(module).values() if isinstance(obj, Task)]
    return found


def test_every_task_of_the_flows_belongs_to_exactly_one_stage() -> None:
    """A task added to a flow but not to config/orchestration.yaml would move no bar."""
    names = {t.name for t in pipeline_tasks()}
    listed = [t for s in load_orchestration_config().progress.stages for t in s.tasks]
    assert len(listed) == len(set(listed)), "a task is listed in two stages"
    assert names == set(listed)


def test_the_task_key_of_an_event_names_its_task() -> None:
    """Events carry Prefect's task_key (function name + code hash): one function as two tasks would clash."""
    found = {t.task_key: t.name for t in pipeline_tasks()}
    assert len(found) == len({t.name for t in pipeline_tasks()}), "two tasks share a task_key"
    names = TaskNames()
    assert {key: names.name_of(key) for key in found} == found
    assert names.name_of("no-such-task-0a1b2c3d") is None
    assert names.name_of(None) is None


FLOW_RUN = uuid4()
VALIDATE_KEY = "validate_table_task-6ddd0b95"
EXTRACT_KEY = "extract_dataset_task-6d342359"


class KnownNames(TaskNames):
    """Task keys of the events built below, without importing the pipeline."""

    def __init__(self) -> None:
        super().__init__(packages=())
        self.names = {EXTRACT_KEY: "extract", VALIDATE_KEY: "validate"}


def task_run_event(
    task_run: UUID, state: str, task_key: str, state_type: str | None = None, flow_run: UUID = FLOW_RUN
) -> Event:
    """A task-run state event as Prefect's task engine emits it (prefect.utilities.engine)."""
    return Event(
        event=f"prefect.task-run.{state}",
        resource={
            "prefect.resource.id": f"prefect.task-run.{task_run}",
            "prefect.resource.name": f"{task_key.split('_')[0]}-0a1",
            "prefect.state-name": state,
            "prefect.state-type": state_type or state.upper(),
        },
        related=[
            {"prefect.resource.id": f"prefect.flow-run.{flow_run}", "prefect.resource.role": "flow-run"},
            {"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow"},
        ],
        payload={"task_run": {"name": "validate-invitations", "task_key": task_key, "dynamic_key": "0a1"}},
    )


def flow_run_event(state: str, flow_run: UUID = FLOW_RUN) -> Event:
    """A flow-run state event as Prefect's server emits it."""
    return Event(
        event=f"prefect.flow-run.{state}",
        resource={
            "prefect.resource.id": f"prefect.flow-run.{flow_run}",
            "prefect.state-type": state.upper(),
        },
        related=[{"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow"}],
    )


class Recorder:
    def __init__(self) -> None:
        self.tasks: list[tuple[str, bool]] = []
        self.runs: list[bool] = []

    def events(self) -> RunEvents:
        return RunEvents(lambda name, ok: self.tasks.append((name, ok)), self.runs.append, KnownNames())


def test_each_task_run_counts_once_when_it_enters_a_final_state() -> None:
    recorded = Recorder()
    events = recorded.events()
    first, second, retried, cached = uuid4(), uuid4(), uuid4(), uuid4()
    events.handle(task_run_event(first, "Completed", EXTRACT_KEY))  # before the flow run is known
    events.follow(FLOW_RUN)
    for event in (
        task_run_event(first, "Pending", EXTRACT_KEY),
        task_run_event(first, "Running", EXTRACT_KEY),
        task_run_event(second, "Running", VALIDATE_KEY),
        task_run_event(first, "Completed", EXTRACT_KEY),
        task_run_event(first, "Completed", EXTRACT_KEY),  # the same event again (a replay)
        task_run_event(uuid4(), "Completed", EXTRACT_KEY, flow_run=uuid4()),  # another flow run's
        task_run_event(retried, "AwaitingRetry", VALIDATE_KEY, state_type="SCHEDULED"),
        task_run_event(retried, "Retrying", VALIDATE_KEY, state_type="RUNNING"),
        task_run_event(retried, "Failed", VALIDATE_KEY),
        task_run_event(cached, "Cached", EXTRACT_KEY, state_type="COMPLETED"),
        task_run_event(uuid4(), "Completed", "not_in_the_pipeline-00000000"),
    ):
        events.handle(event)
    assert recorded.tasks == [("extract", True), ("validate", False), ("extract", True)]
    assert events.open_task_runs == {f"prefect.task-run.{second}"}
    assert not events.settled(completed=True), "a task run is still open"
    assert recorded.runs == []


def test_the_flow_runs_final_state_ends_the_run() -> None:
    recorded = Recorder()
    events = recorded.events()
    events.follow(FLOW_RUN)
    events.handle(flow_run_event("Running"))
    events.handle(flow_run_event("Completed", flow_run=uuid4()))
    assert recorded.runs == [], "neither a Running state nor another flow run's end ends the run"
    assert not events.settled(completed=False)
    events.handle(flow_run_event("Failed"))
    events.handle(flow_run_event("Failed"))
    assert recorded.runs == [False]
    assert events.settled(completed=False)


class FakeServer(PrefectEvents):
    """Stands in for Prefect's API: not reachable at first, then refusing one subscription (a server
    starting), then streaming what the test puts in `events`."""

    def __init__(self, unreachable: int = 0, refusals: int = 0) -> None:
        self.unreachable = unreachable
        self.refusals = refusals
        self.events: queue.Queue[Event] = queue.Queue()
        self.filters: list[EventFilter] = []

    async def reachable(self) -> bool:
        self.unreachable -= 1
        return self.unreachable < 0

    @asynccontextmanager
    async def subscribe(self, event_filter: EventFilter) -> AsyncIterator[AsyncIterator[Event]]:
        if self.refusals:
            self.refusals -= 1
            raise ConnectionRefusedError("not up yet")
        self.filters.append(event_filter)
        yield self._stream()

    async def _stream(self) -> AsyncIterator[Event]:
        while True:
            try:
                yield self.events.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.01)


def eventually(condition: Callable[[], bool], seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def start_flow_run(flow_run: UUID = FLOW_RUN) -> None:
    """What Prefect does when a `followed` flow's run starts: call its on_running hooks."""
    follow_run_progress(SimpleNamespace(), SimpleNamespace(id=flow_run), SimpleNamespace())


def test_bars_follow_the_runs_events_and_log_lines_print_above_them() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    own_stream = io.StringIO()
    handler = logging.StreamHandler(own_stream)
    handler.setFormatter(logging.Formatter("%(levelname)s | %(message)s"))
    task_log, engine_log = logging.getLogger("prefect.task_runs"), logging.getLogger("prefect.engine")
    task_log.addHandler(handler)
    engine_log.addHandler(handler)
    server = FakeServer(unreachable=2, refusals=1)
    extract, validate = uuid4(), uuid4()
    engine_filters = list(engine_log.filters)
    try:
        with show_run_progress(console, [handler], server, task_packages=()) as display:
            display_names = _followers[-1].events.names
            display_names.names.update(KnownNames().names)
            start_flow_run()
            assert server.filters, "the subscription is open once the flow run starts"
            engine_log.info(f"Running hook {HOOK_NAME!r} in response to entering state 'Running'")
            task_log.info("invitations.csv: 132 rows read", extra={"send_to_api": False})
            server.events.put(task_run_event(extract, "Running", EXTRACT_KEY))
            server.events.put(task_run_event(extract, "Completed", EXTRACT_KEY))
            server.events.put(task_run_event(validate, "Completed", VALIDATE_KEY))
            assert eventually(lambda: display.tracker.current == 2)
            assert display.tracker.stages_done == 2, "start and extract"
            server.events.put(flow_run_event("Completed"))
    finally:
        task_log.removeHandler(handler)
        engine_log.removeHandler(handler)
    assert own_stream.getvalue() == "", "lines go through the live console, not over the bars"
    output = screen.getvalue()
    assert "INFO | invitations.csv: 132 rows read" in output
    assert HOOK_NAME not in output, "the hook is the display's business"
    assert "✓ validate" in output
    assert "✓ publish" in output, "a completed run completes every stage"
    event_filter = server.filters[0]
    assert event_filter.event is not None
    assert event_filter.event.prefix == ["prefect.task-run.", "prefect.flow-run."]
    assert _followers == [], "the display stops following"
    assert handler.filters == [], "the display leaves the handlers as it found them"
    assert engine_log.filters == engine_filters, "and the loggers"


def test_a_run_whose_events_cannot_be_followed_still_ends_with_its_bars_complete() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)

    class NoApi(PrefectEvents):
        @staticmethod
        def api_url() -> str:
            return ""

    started = time.monotonic()
    with show_run_progress(console, [], NoApi()) as display:
        start_flow_run()
    assert time.monotonic() - started < 1, "neither the flow nor the display waits for events"
    assert display.tracker.stages_done == len(display.tracker.stages)

    shown = []

    server = FakeServer()

    def failing_run() -> None:
        with show_run_progress(console, [], server) as display:
            shown.append(display)
            start_flow_run()
            server.events.put(flow_run_event("Failed"))
            raise RuntimeError("the flow failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert shown[0].tracker.stages_done == 0, "a failed run stops where it was"


def test_a_followed_flow_keeps_its_own_hooks_and_pickles() -> None:
    """A process pool or Dask pickles the flow with its hooks: ours goes by reference."""
    from flows.national import national_run

    copy = followed(national_run)
    assert copy.on_running_hooks == [*national_run.on_running_hooks, follow_run_progress]
    assert copy.on_failure_hooks == national_run.on_failure_hooks
    assert follow_run_progress not in national_run.on_running_hooks, "the flow itself is unchanged"
    assert len(pickle.dumps(follow_run_progress)) < 100


def test_the_api_is_reachable_once_its_port_takes_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary server opens its port once it is ready; until then only a cheap connect is tried."""
    import socket

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        monkeypatch.setattr(PrefectEvents, "api_url", staticmethod(lambda: f"http://127.0.0.1:{port}/api"))
        assert asyncio.run(PrefectEvents().reachable())
    assert not asyncio.run(PrefectEvents().reachable()), "nothing listens there any more"
