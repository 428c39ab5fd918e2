"""Great Expectations in a process of its own, started as a CLI run begins (when a core is free for it).

Importing GX costs 8-15 s of CPU, and in the run's own process it competes for the one interpreter lock
with the imports of Prefect, pandas and the flows, so a thread gives no overlap. A second process on the
second core imports it while this one imports the rest; each suite is then checked there and only the
answer comes back: the failing rows' ids and a handle on GX's result, which stays in that process until
the run's Data Docs are rendered there too. This module imports neither GX nor pandas.

On 2 cores this pays only when the run reports to a running Prefect server: a temporary server's start
already takes the second core, and a third process then slows the run (operations/cli.py says when).

Without start_validator() (tests, a warm worker, a Dask or process-pool worker) everything runs in the
calling process as before; the checks, their results and the Data Docs are the same either way.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_POOL: ProcessPoolExecutor | None = None
_PROCESSES: list[multiprocessing.process.BaseProcess] = []  # the pool's one process, to stop it at once
_WARM: list[Future[int]] = []  # done once the process has imported GX
_POOL_LOCK = threading.Lock()
STOP_SECONDS = 10
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal for this process when its parent dies
LOST = (
    "the process checking the inputs with Great Expectations ended unexpectedly (out of memory, or "
    "killed). Run again."
)
# In the validator process: GX's results of this run, by handle, until its Data Docs are rendered.
_KEPT: dict[str, Any] = {}


class ValidatorLostError(RuntimeError):
    """The validator process ended during a run (killed, or out of memory)."""


@dataclass(frozen=True)
class KeptResult:
    """GX's result of one suite, kept in the validator process and named here by a token."""

    token: str


def start_validator() -> None:
    """Start the validator process now, so its import of GX overlaps the caller's imports."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is not None:
            return
        # spawn, not fork: this process may already hold threads (the Prefect server watch) and locks.
        context = multiprocessing.get_context("spawn")
        before = set(multiprocessing.active_children())
        _POOL = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_warm_up_validator)
        _WARM[:] = [_POOL.submit(os.getpid)]  # a pool starts its process on the first submission
        _PROCESSES[:] = [p for p in multiprocessing.active_children() if p not in before]
    atexit.register(stop_validator)


def stop_validator() -> None:
    """Stop the validator process: politely once it is warm, else at once.

    While it still imports GX (Ctrl-C early in a run), waiting for the pool would wait out that import.
    """
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
        processes, _PROCESSES[:] = list(_PROCESSES), []
        warm = all(future.done() for future in _WARM)
    if pool is None:
        return
    if not warm:
        for process in processes:
            with contextlib.suppress(Exception):  # a process already gone is no error
                process.terminate()
                process.join(STOP_SECONDS)
    with contextlib.suppress(Exception):  # a broken pool still frees its queues and thread here
        pool.shutdown(wait=True, cancel_futures=True)


def validator_processes() -> list[multiprocessing.process.BaseProcess]:
    """The validator's process (none when it is not running), for tests and diagnostics."""
    with _POOL_LOCK:
        return list(_PROCESSES)


def validator_running() -> bool:
    """Whether suites are checked in the validator process."""
    return _POOL is not None


def check_suite_in_validator(
    frame: Any, suite: dict[str, Any], parameters: dict[str, Any], label: str | None, row_id: str
) -> tuple[list[tuple[dict, list[Any] | None]], KeptResult]:
    """run_suite in the validator process: the failed expectations with their rows, and a result handle."""
    return _result(_submit(_check_suite_kept, frame, suite, parameters, label, row_id))


def render_data_docs_in_validator(handles: list[KeptResult], folder: Path) -> Path:
    """Render this run's Data Docs in the validator process, from the results it keeps."""
    return _result(_submit(_render_data_docs_kept, [h.token for h in handles], folder))


def _submit(function: Any, *arguments: Any) -> Future[Any]:
    """Hand one call to the validator process."""
    with _POOL_LOCK:
        if _POOL is None:
            raise ValidatorLostError("the validator process was stopped before the run ended. Run again.")
        try:
            return _POOL.submit(function, *arguments)
        except BrokenProcessPool as lost:  # it ended before this call
            raise ValidatorLostError(LOST) from lost


def _result(future: Future[Any]) -> Any:
    """The call's answer; its own error (a bad file, a broken suite) is raised here as it was there."""
    try:
        return future.result()
    except BrokenProcessPool as lost:  # it ended during this call
        raise ValidatorLostError(LOST) from lost


def _warm_up_validator() -> None:
    """In the validator process: leave Ctrl-C to the run, then import GX and build its context."""
    # Ctrl-C reaches the whole process group; the run stops this process itself, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop_when_parent_dies()
    from tasks.gx_suites import warm_up_gx

    warm_up_gx()


def stop_when_parent_dies() -> None:
    """Ask Linux to end this process when the run's process dies (killed outright, no clean-up)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _check_suite_kept(
    frame: Any, suite: dict[str, Any], parameters: dict[str, Any], label: str | None, row_id: str
) -> tuple[list[tuple[dict, list[Any] | None]], KeptResult]:
    """In the validator process: check one suite, keep GX's result, return its failures and handle."""
    from tasks.gx_suites import check_suite_here

    failed, result = check_suite_here(frame, suite, parameters, label, row_id)
    handle = KeptResult(uuid.uuid4().hex)
    _KEPT[handle.token] = result
    return failed, handle


def _render_data_docs_kept(tokens: list[str], folder: Path) -> Path:
    """In the validator process: render Data Docs from the results kept under these tokens."""
    from tasks.gx_suites import render_data_docs

    return render_data_docs([_KEPT[token] for token in tokens], folder)
