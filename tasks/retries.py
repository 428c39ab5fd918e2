"""Retries for I/O that can fail for a moment (an SQL source, a publish target); never for a data error."""

from __future__ import annotations

from typing import Any

from prefect.states import State
from prefect.tasks import exponential_backoff

from maturity.extras import MissingExtraError
from maturity.settings import load_orchestration_config
from tasks.contracts import DatasetError, SourceUnavailableError


def retry_options() -> dict[str, Any]:
    """Task options for retrying transient I/O: attempts and exponential backoff from config."""
    config = load_orchestration_config().retries
    return {
        "retries": config.attempts,
        "retry_delay_seconds": exponential_backoff(backoff_factor=config.backoff_factor),
    }


def failure_of(state: State[Any]) -> BaseException | None:
    """The exception a failed task run raised, if any."""
    failure = state.result(raise_on_failure=False)
    return failure if isinstance(failure, BaseException) else None


def retry_unless_data_error(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Retry a failed upload or read, except a data error or a missing extra (trying again fixes neither)."""
    failure = failure_of(state)
    return failure is not None and (
        isinstance(failure, SourceUnavailableError)
        or not isinstance(failure, DatasetError | MissingExtraError)
    )


def retry_if_source_unavailable(task: Any, task_run: Any, state: State[Any]) -> bool:
    """Retry an extract only when its SQL source could not be reached; a file is read once."""
    return isinstance(failure_of(state), SourceUnavailableError)
