"""A run's progress on a terminal: one bar per stage (extract ... publish), the run log printed above.

Progress is read off Prefect's run log, so the flows know nothing about it: each task run logs one
"Finished in state ..." line, and config/orchestration.yaml (progress.stages) says which stage each
task belongs to. Stages run in order, so when a task of a later stage finishes, every earlier stage
is done. Stage totals are not known before a stage runs (a rerun redoes only some inputs), so a stage's
bar fills when it is done and pulses while it runs; the overall bar counts stages.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from maturity.settings import load_orchestration_config

FINISHED_PREFIX = "Finished in state "
RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")


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


class _StageProgress(logging.Filter):
    """Watches the run loggers' records (and lets them all through) to move the progress bars."""

    def __init__(self, display: RunProgress) -> None:
        super().__init__()
        self.display = display

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(FINISHED_PREFIX):
            completed = message.startswith(f"{FINISHED_PREFIX}Completed")
            if record.name == "prefect.flow_runs":
                self.display.run_finished(completed)
            else:
                self.display.task_finished(getattr(record, "task_name", ""), completed)
        return True


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
def show_run_progress(console: Console, log_handlers: list[logging.Handler]) -> Iterator[RunProgress]:
    """Show stage bars while a flow runs here; the given handlers' lines are printed above them."""
    display = RunProgress(console, StageTracker.from_config())
    watcher = _StageProgress(display)
    above = [(handler, _PrintAbove(handler, console)) for handler in log_handlers]
    loggers = [logging.getLogger(name) for name in RUN_LOGGERS]
    for logger in loggers:
        logger.filters.insert(0, watcher)  # first, so it sees the records quieter filters drop
    for handler, printer in above:
        handler.addFilter(printer)  # last, so it prints only what the handler would have written
    try:
        with display:
            yield display
    finally:
        for logger in loggers:
            logger.removeFilter(watcher)
        for handler, printer in above:
            handler.removeFilter(printer)
