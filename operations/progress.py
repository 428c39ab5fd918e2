"""A run's progress on a terminal: one bar per stage (extract ... publish), the run log printed above.

Progress comes from Prefect's own events, so the flows know nothing about it. Prefect's task engine
emits an event for every state a task run enters (`prefect.task-run.Completed`, `...Failed`), wherever
the task runs (a thread, a process pool, a Dask worker), and Prefect's API server streams them to any
subscriber: here Prefect's events subscriber (`prefect.events.clients.get_events_subscriber`), in a
thread of the CLI's process. Each task run's event names its state's type (the `prefect.state-type`
label), its flow run (a related resource, role `flow-run`) and its task (`task_key` in the payload's
`task_run`: the task function's key, which `Task.task_key` maps to the task's name). Which flow run is
ours the flow says itself, through an `on_running` hook the CLI adds to its copy of the flow.

config/orchestration.yaml (progress.stages) says which stage each task belongs to. Stages run in order,
so when a task of a later stage finishes, every earlier stage is done. Stage totals are not known before
a stage runs (a rerun redoes only some inputs), so a stage's bar fills when it is done and pulses while
it runs; the overall bar counts stages.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from prefect import Flow, Task
from prefect.client.schemas.objects import TERMINAL_STATES, StateType
from prefect.events import Event
from prefect.events.filters import EventFilter, EventNameFilter
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from maturity.settings import load_orchestration_config

# The events followed: Prefect's task-run and flow-run state events ("prefect.task-run.<state name>").
TASK_RUN_EVENTS = "prefect.task-run."
FLOW_RUN_EVENTS = "prefect.flow-run."
STATE_TYPE_LABEL = "prefect.state-type"
FLOW_RUN_ROLE = "flow-run"
FINISHED = frozenset(state.value for state in TERMINAL_STATES)  # COMPLETED, FAILED, CRASHED, CANCELLED
# Where the pipeline's tasks are defined: their Task objects map an event's task_key to the task's name.
TASK_PACKAGES = ("tasks", "flows")
# Waits, in seconds. The flow waits at most CONNECT_WAIT for the subscription when it starts (it is
# normally long open by then: it opens as soon as the API answers); the display waits at most END_WAIT
# for the last events when the flow has returned (they normally are in already: about 0.05 s late).
CONNECT_WAIT = 2.0
END_WAIT = 2.0
RETRY_SECONDS = 0.1  # between attempts to subscribe while the API is not up yet


@dataclass
class Stage:
    name: str
    tasks: frozenset[str]
    finished_tasks: int = 0
    failed_tasks: int = 0
    started_at: float | None = None
    done_at: float | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass
class StageTracker:
    """Which stage a run is in, from the task runs that finished (no rich, no Prefect: easy to test)."""

    stages: list[Stage]
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    current: int = 0

    @classmethod
    def from_config(cls, clock: Callable[[], float] = time.monotonic) -> StageTracker:
        """Stages and their tasks as config/orchestration.yaml lists them."""
        configured = load_orchestration_config().progress.stages
        stages = [Stage(entry.name, frozenset(entry.tasks)) for entry in configured]
        tracker = cls(stages, clock)
        tracker.stages[0].started_at = tracker.now()
        return tracker

    def now(self) -> float:
        return self.clock()

    def stage_of(self, task_name: str) -> int | None:
        """The index of the stage a task belongs to, or None for a task no stage lists."""
        for index, stage in enumerate(self.stages):
            if task_name in stage.tasks:
                return index
        return None

    def task_finished(self, task_name: str, completed: bool) -> int | None:
        """Record a finished task run; earlier stages are done once a later one has work finished."""
        index = self.stage_of(task_name)
        if index is None:
            return None
        stage = self.stages[index]
        stage.finished_tasks += 1
        stage.failed_tasks += 0 if completed else 1
        if stage.started_at is None:
            stage.started_at = self.now()
        for earlier in self.stages[:index]:
            self._finish(earlier)
        self.current = max(self.current, index)
        return index

    def run_finished(self, completed: bool) -> None:
        """The flow run ended: a completed run has done every stage; a failed one stops where it was."""
        if completed:
            for stage in self.stages:
                self._finish(stage)

    def _finish(self, stage: Stage) -> None:
        if stage.done:
            return
        now = self.now()
        stage.started_at = stage.started_at if stage.started_at is not None else now
        stage.done_at = now
        following = self.stages.index(stage) + 1
        if following < len(self.stages) and self.stages[following].started_at is None:
            self.stages[following].started_at = now

    @property
    def stages_done(self) -> int:
        return sum(stage.done for stage in self.stages)


class TaskNames:
    """A task's name (as in @task(name=...)) from the task_key Prefect's events carry.

    The key is Prefect's `Task.task_key` (the function's name and a hash of its code): the names come from
    the Task objects of the loaded modules of the given packages, looked up again for a key not seen yet.
    """

    def __init__(self, packages: Sequence[str] = TASK_PACKAGES) -> None:
        self.packages = tuple(packages)
        self.names: dict[str, str] = {}

    def name_of(self, task_key: str | None) -> str | None:
        if task_key is None:
            return None
        if task_key not in self.names:
            self._collect()
        return self.names.get(task_key)

    def _collect(self) -> None:
        for module_name, module in list(sys.modules.items()):
            if module is None or module_name.partition(".")[0] not in self.packages:
                continue
            for value in list(vars(module).values()):
                if isinstance(value, Task):
                    self.names.setdefault(value.task_key, value.name)


class RunEvents:
    """Turns one flow run's Prefect events into finished tasks and a finished run (no threads, no server).

    Events of other flow runs (a shared server, the subscription's replay of the last minute) are ignored,
    as is every event until the flow run is known. Each task run counts once, when it enters a final
    state (a retried task run only enters one at its last attempt).
    """

    def __init__(
        self,
        task_finished: Callable[[str, bool], None],
        run_finished: Callable[[bool], None],
        names: TaskNames | None = None,
    ) -> None:
        self.task_finished = task_finished
        self.run_finished = run_finished
        self.names = names or TaskNames()
        self.flow_run: str | None = None  # the flow run's resource id, "prefect.flow-run.<id>"
        self.open_task_runs: set[str] = set()
        self.finished_task_runs: set[str] = set()
        self.run_state: str | None = None  # the flow run's final state type, once its event is in

    def follow(self, flow_run_id: UUID | str) -> None:
        if self.flow_run is None:
            self.flow_run = f"prefect.flow-run.{flow_run_id}"

    def handle(self, event: Event) -> None:
        if self.flow_run is None:
            return
        state_type = event.resource.get(STATE_TYPE_LABEL)
        if event.resource.id == self.flow_run:
            if event.event.startswith(FLOW_RUN_EVENTS) and state_type in FINISHED and self.run_state is None:
                self.run_state = state_type
                self.run_finished(state_type == StateType.COMPLETED.value)
            return
        if not event.event.startswith(TASK_RUN_EVENTS) or not self._of_our_flow_run(event):
            return
        task_run = event.resource.id
        if task_run in self.finished_task_runs:
            return
        if state_type not in FINISHED:
            self.open_task_runs.add(task_run)
            return
        self.open_task_runs.discard(task_run)
        self.finished_task_runs.add(task_run)
        details = (event.payload or {}).get("task_run") or {}
        name = self.names.name_of(details.get("task_key"))
        if name is not None:
            self.task_finished(name, state_type == StateType.COMPLETED.value)

    def _of_our_flow_run(self, event: Event) -> bool:
        return any(r.id == self.flow_run for r in event.resources_in_role.get(FLOW_RUN_ROLE, ()))

    def settled(self, completed: bool) -> bool:
        """Whether the run's last events are in: its final state and, if it completed, every task run's."""
        return self.run_state is not None and not (completed and self.open_task_runs)


class PrefectEvents:
    """Prefect's events, from the API this process reports to (PREFECT_API_URL)."""

    async def reachable(self) -> bool:
        """Whether the API's port takes connections: a temporary server opens it once it is ready.

        Much cheaper than a failed subscription (an HTTP client for Prefect's version check, each time),
        for the seconds a temporary server takes to start.
        """
        address = urlsplit(self.api_url())
        if not address.hostname:
            return True  # the subscription says what is wrong
        port = address.port or (443 if address.scheme == "https" else 80)
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address.hostname, port), 1)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    def subscribe(self, event_filter: EventFilter) -> AbstractAsyncContextManager[AsyncIterator[Event]]:
        """Prefect's events subscriber, given the filter."""
        from prefect.events.clients import get_events_subscriber

        if not self.api_url():
            # get_events_subscriber would start a server of its own: there is nothing to follow.
            raise LookupError("no Prefect API to follow events from")
        return get_events_subscriber(event_filter, reconnection_attempts=3)

    @staticmethod
    def api_url() -> str:
        from prefect.settings import PREFECT_API_URL

        return str(PREFECT_API_URL.value() or "")


class EventFollower:
    """Follows Prefect's events from a thread of its own and hands them to RunEvents.

    The subscription opens when the display starts, retried while the API is not up (a temporary server
    may still be starting), so it is open before the flow's first task runs: an event that happened before
    a subscription opened is replayed only if the server has stored it already, and it stores events in
    batches, up to 5 s late.
    """

    def __init__(self, events: RunEvents, source: PrefectEvents | None = None) -> None:
        self.events = events
        self.source = source or PrefectEvents()
        self.changed = threading.Condition()
        self.subscribed = False
        self.given_up = False
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # In a copy of this thread's context, so the thread sees the same Prefect settings (the API).
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(asyncio.run, self._follow()), name="run-progress-events", daemon=True
        )
        self._thread.start()

    def flow_run_started(self, flow_run_id: UUID) -> None:
        """The flow run to follow (from the flow's own thread); waits briefly for the subscription."""
        with self.changed:
            self.events.follow(flow_run_id)
            self.changed.wait_for(lambda: self.subscribed or self.given_up, timeout=CONNECT_WAIT)

    def stop(self, completed: bool, wait: bool = True) -> None:
        """Wait briefly for the run's last events (unless told not to), then stop following."""
        with self.changed:
            if wait and self.subscribed and self.events.flow_run is not None:
                self.changed.wait_for(lambda: self.events.settled(completed) or self.given_up, END_WAIT)
            self._stopping = True
            if self._loop is not None and self._task is not None:
                with contextlib.suppress(RuntimeError):  # the loop has closed: the thread is done
                    self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout=END_WAIT)

    async def _follow(self) -> None:
        with self.changed:
            if self._stopping:
                return
            self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            async with contextlib.AsyncExitStack() as stack:
                async for event in await self._subscribe(stack):
                    with self.changed:
                        self.events.handle(event)
                        self.changed.notify_all()
        except asyncio.CancelledError:
            pass
        except Exception as error:  # progress is a nicety: the run goes on without it
            logging.getLogger(__name__).debug("Stopped following the run's events: %r", error)
        finally:
            with self.changed:
                self.given_up = True
                self.changed.notify_all()

    async def _subscribe(self, stack: contextlib.AsyncExitStack) -> AsyncIterator[Event]:
        """Subscribe to Prefect's run events, trying again while the API does not answer yet."""
        event_filter = EventFilter(event=EventNameFilter(prefix=[TASK_RUN_EVENTS, FLOW_RUN_EVENTS]))
        while True:
            with contextlib.suppress(OSError, TimeoutError):
                if await self.source.reachable():
                    subscriber = await stack.enter_async_context(self.source.subscribe(event_filter))
                    with self.changed:
                        self.subscribed = True
                        self.changed.notify_all()
                    return subscriber
            await asyncio.sleep(RETRY_SECONDS)


# The followers of this process's displays; the hook below tells them which flow run is theirs. A hook
# must be a module-level function: a process pool or Dask pickles the flow, its hooks included.
_followers: list[EventFollower] = []


def follow_run_progress(flow: Flow[..., Any], flow_run: Any, state: Any) -> None:
    """Prefect on_running hook: the flow run has started, in this process."""
    for follower in list(_followers):
        follower.flow_run_started(flow_run.id)


HOOK_NAME = follow_run_progress.__name__


def followed(flow: Flow[..., Any]) -> Flow[..., Any]:
    """A copy of the flow whose runs tell this process's progress displays that they started."""
    return flow.with_options(on_running=[*flow.on_running_hooks, follow_run_progress])


class _HideHookLines(logging.Filter):
    """Drop Prefect's "Running hook 'follow_run_progress' ..." lines: the hook is the display's business."""

    def filter(self, record: logging.LogRecord) -> bool:
        return f"'{HOOK_NAME}'" not in record.getMessage()


HOOK_LOGGERS = ("prefect.engine", "prefect.flow_runs")


class _PrintAbove(logging.Filter):
    """Prints a console log line above the live bars instead of through the handler's own stream."""

    def __init__(self, handler: logging.Handler, console: Console) -> None:
        super().__init__()
        self.handler = handler
        self.console = console

    def filter(self, record: logging.LogRecord) -> bool:
        self.console.print(Text(self.handler.format(record)), soft_wrap=True, highlight=False)
        return False


class RunProgress:
    """Rich progress bars for the stages of one flow run."""

    def __init__(self, console: Console, tracker: StageTracker) -> None:
        self.tracker = tracker
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/green]"),
            TextColumn("{task.description:<10}"),
            BarColumn(bar_width=30),
            TextColumn("{task.fields[tasks]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.rows: list[TaskID] = []
        self.overall: TaskID | None = None

    def __enter__(self) -> RunProgress:
        for stage in self.tracker.stages:
            self.rows.append(self.progress.add_task(stage.name, total=1, start=False, tasks="waiting"))
        self.overall = self.progress.add_task(
            "[bold]run[/bold]", total=len(self.tracker.stages), tasks="", completed=0
        )
        self._refresh()
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._refresh()
        self.progress.stop()

    def task_finished(self, task_name: str, completed: bool) -> None:
        if self.tracker.task_finished(task_name, completed) is not None:
            self._refresh()

    def run_finished(self, completed: bool) -> None:
        self.tracker.run_finished(completed)
        self._refresh()

    def _refresh(self) -> None:
        for row, stage in zip(self.rows, self.tracker.stages, strict=True):
            count = (
                f"{stage.finished_tasks} task{'s' if stage.finished_tasks != 1 else ''}"
                if stage.tasks
                else ""
            )
            if stage.failed_tasks:
                count += f", [red]{stage.failed_tasks} failed[/red]"
            if stage.started_at is not None and not self.progress.tasks[row].started:
                self.progress.start_task(row)
                self.progress.update(row, total=None)  # running: the bar pulses
            if stage.done:
                self.progress.update(row, total=1, completed=1, tasks=count)
                self.progress.stop_task(row)
            elif stage.started_at is not None:
                self.progress.update(row, tasks=count if stage.finished_tasks else "running")
        if self.overall is not None:
            self.progress.update(self.overall, completed=self.tracker.stages_done)


@contextmanager
def show_run_progress(
    console: Console,
    log_handlers: list[logging.Handler],
    source: PrefectEvents | None = None,
    task_packages: Sequence[str] = TASK_PACKAGES,
) -> Iterator[RunProgress]:
    """Show stage bars while a flow run `followed(...)` runs here; the handlers' lines print above them.

    The bars follow Prefect's events (EventFollower); a run whose events cannot be followed still ends
    with its bars complete, from how the block ended.
    """
    display = RunProgress(console, StageTracker.from_config())
    events = RunEvents(display.task_finished, display.run_finished, TaskNames(task_packages))
    follower = EventFollower(events, source)
    hide = _HideHookLines()
    loggers = [logging.getLogger(name) for name in HOOK_LOGGERS]
    above = [(handler, _PrintAbove(handler, console)) for handler in log_handlers]
    for logger in loggers:
        logger.addFilter(hide)
    for handler, printer in above:
        handler.addFilter(printer)  # last, so it prints only what the handler would have written
    _followers.append(follower)
    try:
        with display:
            follower.start()
            outcome: bool | None = None  # completed, failed, or interrupted (do not wait for events)
            try:
                yield display
                outcome = True
            except Exception:
                outcome = False
                raise
            finally:
                follower.stop(completed=bool(outcome), wait=outcome is not None)
                if events.run_state is None:
                    display.run_finished(bool(outcome))
    finally:
        _followers.remove(follower)
        for logger in loggers:
            logger.removeFilter(hide)
        for handler, printer in above:
            handler.removeFilter(printer)
