"""The CLI's side of the warm rerun worker: whether to use it, whether it is there, and the rerun it runs.

Kept free of Prefect at import time: the decision and the probe are plain HTTP, so a rerun that runs
cold pays nothing for asking, and one that runs warm imports only Prefect's client, never GX, pandas or
the flows (operations/warm.py holds the task; it imports those only inside the worker).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from maturity.settings import load_operations_config

# The warm worker runs the flow on threads; other runners start processes of their own anyway.
WARM_TASK_RUNNER = "threads"
# How often to ask again for a submitted task run that has no state yet.
NO_STATE_POLL_SECONDS = 0.2


class WarmRerunError(RuntimeError):
    """The warm worker took the rerun but did not give its outcome back (timed out, or a bug)."""


@dataclass(frozen=True)
class WarmFailure:
    """A rerun the warm worker stopped with a user's error: the CLI's label, line and exit code."""

    label: str
    text: str
    exit_code: int


def warm_rerun_wanted(parameters: dict[str, Any], verbose: bool, api_url: str | None) -> bool:
    """Whether a rerun may go to a warm worker: a server named, the worker on, nothing it cannot do.

    A database source stays in this process (its address would be written to Prefect's parameter
    storage), and so do --verbose (its log is shown here) and the processes and dask task runners.
    """
    return bool(
        api_url
        and load_operations_config().serve.warm_worker
        and parameters.get("source") is None
        and parameters.get("dask_address") is None
        and parameters.get("task_runner") == WARM_TASK_RUNNER
        and not verbose
    )


def warm_worker_connected(api_url: str, task_key: str, timeout_seconds: float) -> bool:
    """Whether a task worker serving task_key is connected to the Prefect API (POST /task_workers/filter)."""
    body = json.dumps({"task_worker_filter": {"task_keys": [task_key]}}).encode()
    request = urllib.request.Request(
        f"{api_url.rstrip('/')}/task_workers/filter",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never via a proxy
    try:
        with opener.open(request, timeout=timeout_seconds) as response:
            workers = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return False  # no answer, or not Prefect's: the rerun runs here, as without a worker
    return isinstance(workers, list) and any(
        task_key in worker.get("task_keys", []) for worker in workers if isinstance(worker, dict)
    )


def warm_parameters(council: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The rerun task's plain parameters from the CLI's flow parameters (paths as text, no source)."""
    inputs = parameters["inputs"]
    return {
        "council": council,
        "inputs": str(inputs) if inputs is not None else None,
        "out": str(parameters["out"]),
        "report_status": parameters["report_status"],
        "report_pdf": bool(parameters["report_pdf"]),
        "task_runner": parameters["task_runner"],
    }


def find_warm_worker(api_url: str) -> bool:
    """Whether `maturity serve`'s warm worker for this code's rerun task is connected now."""
    from operations.warm import rerun_council_warm

    probe = load_operations_config().serve.warm_probe_seconds
    return warm_worker_connected(api_url, rerun_council_warm.task_key, probe)


def wait_for_task_run(future: Any, timeout: float) -> None:
    """Wait for a submitted task run to finish, at most `timeout` seconds in all.

    Prefect's wait raises at once if the task run has no state yet, which a loaded machine shows between
    the worker receiving the run and setting its first state (a traceback in the CLI before): ask again
    until it has one. At the time-out it returns, and the caller finds the run unfinished (its state is
    then Pending) and says so in one line.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            future.wait(timeout=max(deadline - time.monotonic(), 0))
            return
        except RuntimeError as error:
            if "has no state" not in str(error):
                raise
            if time.monotonic() >= deadline:
                return
            time.sleep(NO_STATE_POLL_SECONDS)


def rerun_in_warm_worker(council: str, parameters: dict[str, Any]) -> Any:
    """Submit the rerun to the warm worker and wait: its RunOutcome, or a WarmFailure to report."""
    from operations.outcome import outcome_from_record
    from operations.warm import rerun_council_warm

    timeout = load_operations_config().serve.warm_rerun_timeout_seconds
    future = rerun_council_warm.delay(**warm_parameters(council, parameters))
    wait_for_task_run(future, timeout)
    state = future.state
    if not state.is_final():
        raise WarmRerunError(
            f"the warm worker of `maturity serve` did not finish the rerun within {timeout:g} s (task run "
            f"{future.task_run_id}); it may still be running: see the Prefect UI, or raise "
            "serve.warm_rerun_timeout_seconds in config/operations.yaml."
        )
    if not state.is_completed():
        raise WarmRerunError(
            f"the warm worker's rerun ended {state.name}: {state.message or 'no message'} (task run "
            f"{future.task_run_id}; its traceback is in the `maturity serve` terminal)."
        )
    record = future.result()
    if "failure" in record:
        return WarmFailure(**record["failure"])
    return outcome_from_record(record["outcome"])
