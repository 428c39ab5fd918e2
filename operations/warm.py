"""`maturity serve`'s warm rerun worker: the council rerun as a Prefect background task, imports paid once.

A cold `maturity rerun` spends most of its time importing (Great Expectations, Prefect, pandas, the
flows) before it reads a row. `maturity serve` runs this module (`python -m operations.warm`) as one of
its children: it imports the rerun flow and warms GX up once, then serves `rerun_council_warm` with
Prefect's task worker (`prefect.task_worker.aserve`). `maturity rerun`, with PREFECT_API_URL set, finds the
worker through Prefect's API and submits the rerun with `.delay()` (operations/warm_client.py).

The task runs the same flow, with the same parameters, as a cold rerun (`run_with_task_runner` on
`flows.rerun:council_rerun`), so the flow run, its artifacts and its registry entry are what a cold
rerun leaves. It returns only what the CLI prints: counts per input file and output paths.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from maturity.settings import configure_offline_environment
from operations.outcome import outcome_of, outcome_record

TASK_NAME = "warm-council-rerun"
# One rerun at a time: reruns write into one OUT, whose lock would only make a second one wait.
RERUNS_AT_ONCE = 1


def flow_parameters_of(
    inputs: str | None, out: str, report_status: str, report_pdf: bool, task_runner: str
) -> dict[str, Any]:
    """The council rerun flow's parameters from the task's plain ones (as the CLI's _flow_parameters)."""
    return {
        "inputs": Path(inputs) if inputs else None,
        "out": Path(out),
        "source": None,  # a database source reruns cold: its address is never handed to Prefect's storage
        "report_status": report_status,
        "report_pdf": report_pdf,
        "task_runner": task_runner,
        "dask_address": None,
    }


def rerun_council_here(
    council: str, inputs: str | None, out: str, report_status: str, report_pdf: bool, task_runner: str
) -> dict[str, Any]:
    """Run the council rerun flow in this process: its outcome, or the one line of an error a user can fix.

    A user's error (unknown council, a broken file ...) comes back as the CLI's label, line and exit code,
    so the CLI says exactly what a cold rerun says; the flow run itself is Failed with that line, as
    always. A bug is raised: the task run fails and its traceback is in this worker's log.
    """
    from flows.rerun import council_rerun
    from flows.runners import run_with_task_runner
    from operations.failures import describe_failure

    parameters = flow_parameters_of(inputs, out, report_status, report_pdf, task_runner)
    try:
        summary = run_with_task_runner(council_rerun, council=council, **parameters)
    except Exception as error:
        failure = describe_failure(error, Path(out))
        if failure is None:
            raise
        return {"failure": {"label": failure.label, "text": failure.text, "exit_code": failure.exit_code}}
    return {"outcome": outcome_record(outcome_of(summary))}


# NO_CACHE: a rerun with the same arguments after a new correction must run again. Prefect's task worker
# swaps NO_CACHE for its DEFAULT policy so that it can persist the result for the caller; DEFAULT includes
# RUN_ID, which for a background task is the task run's own id, so no two submissions share a key.
# JSON: the persisted result is plain counts and paths (operations/outcome.py), readable without unpickling.
@task(name=TASK_NAME, cache_policy=NO_CACHE, result_serializer="json")
def rerun_council_warm(
    council: str,
    inputs: str | None,
    out: str,
    report_status: str = "draft",
    report_pdf: bool = False,
    task_runner: str = "threads",
) -> dict[str, Any]:
    """Prefect wrapper: a council rerun in the warm worker, its flow run the one a cold rerun makes."""
    return run_outside_task(rerun_council_here, council, inputs, out, report_status, report_pdf, task_runner)


def run_outside_task(function: Callable[..., Any], *args: Any) -> Any:
    """Call function in a new thread, which starts with no Prefect run context (threads inherit none).

    Called inside this task run, the flow would become its child and take on the task worker's
    persist_result=True, trying to store its RunSummary with the task's JSON serializer; from a thread of
    its own it is the same top-level flow run a cold `maturity rerun` makes, persisting nothing.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warm-rerun") as pool:
        return pool.submit(function, *args).result()


def warm_imports() -> None:
    """Import the rerun flow and its pipeline, and build GX's context, before the first rerun asks."""
    import flows.rerun  # noqa: F401 - the flow, its pipeline and their libraries (pandas, duckdb, jinja2)
    from tasks.gx_suites import warm_up_gx

    warm_up_gx()  # this long-lived process validates in itself: no validator process (tasks/validator.py)


def serve_reruns() -> None:
    """Warm up, then serve the rerun task until stopped (Ctrl-C or SIGTERM)."""
    configure_offline_environment()
    started = time.perf_counter()
    warm_imports()
    print(f"Warm rerun worker: rerun pipeline imported in {time.perf_counter() - started:.1f} s.", flush=True)
    from prefect.task_worker import aserve

    # Its own event loop, not the sync serve(): that one waits in Prefect's loop thread, and a Ctrl-C (the
    # SIGINT `maturity serve` sends to stop it) left it running until it was killed.
    asyncio.run(aserve(rerun_council_warm, limit=RERUNS_AT_ONCE))


if __name__ == "__main__":
    serve_reruns()
