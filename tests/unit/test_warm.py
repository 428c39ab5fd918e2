"""The warm rerun worker without a server: when the CLI uses it, the probe, the task and its parameters."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar
from uuid import uuid4

import pytest
import typer
from prefect.cache_policies import NO_CACHE

from maturity.settings import load_operations_config
from operations import cli, warm, warm_client
from operations.outcome import FileCount, RunOutcome, outcome_from_record, outcome_record
from tasks.contracts import DatasetError

API = "http://127.0.0.1:1/api"  # nothing listens on port 1
KEY = "rerun_council_warm-0123abcd"


def cli_parameters(**changes: Any) -> dict[str, Any]:
    """What `maturity rerun W06000004 --out /tmp/out` hands its flow, with changes."""
    defaults = {"inputs": None, "out": Path("/tmp/out"), "source": None, "final": False, "pdf": False}
    return cli._flow_parameters(**{**defaults, **changes})


class FakeTaskWorkers(BaseHTTPRequestHandler):
    """Prefect's POST /api/task_workers/filter, answering with the workers the test sets."""

    answer: ClassVar[bytes] = b"[]"
    seen: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(type(self).answer)

    def log_message(self, *args: Any) -> None:
        """Quiet: the test output is not the place for a request log."""


@pytest.fixture
def fake_api() -> Iterator[str]:
    """A loopback HTTP server standing in for Prefect's API; yields its /api address."""
    FakeTaskWorkers.seen = []
    server = HTTPServer(("127.0.0.1", 0), FakeTaskWorkers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


def test_a_rerun_goes_warm_only_with_a_server_named_and_nothing_the_worker_cannot_do() -> None:
    assert warm_client.warm_rerun_wanted(cli_parameters(), verbose=False, api_url=API)
    assert not warm_client.warm_rerun_wanted(cli_parameters(), verbose=False, api_url=None)
    assert not warm_client.warm_rerun_wanted(cli_parameters(), verbose=True, api_url=API)
    assert not warm_client.warm_rerun_wanted(
        cli_parameters(source="sqlite:///x.db"), verbose=False, api_url=API
    )
    processes = cli_parameters(task_runner=cli.TaskRunner.processes)
    assert not warm_client.warm_rerun_wanted(processes, verbose=False, api_url=API)


def test_a_rerun_stays_cold_when_the_warm_worker_is_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_operations_config()
    off = settings.model_copy(update={"serve": settings.serve.model_copy(update={"warm_worker": False})})
    monkeypatch.setattr(warm_client, "load_operations_config", lambda: off)
    assert not warm_client.warm_rerun_wanted(cli_parameters(), verbose=False, api_url=API)


def test_the_probe_asks_prefect_for_task_workers_serving_the_key(fake_api: str) -> None:
    FakeTaskWorkers.answer = json.dumps([{"identifier": "w", "task_keys": [KEY], "timestamp": "x"}]).encode()
    assert warm_client.warm_worker_connected(fake_api, KEY, timeout_seconds=5)
    assert FakeTaskWorkers.seen == [
        ("/api/task_workers/filter", {"task_worker_filter": {"task_keys": [KEY]}})
    ]


@pytest.mark.parametrize(
    "answer",
    [b"[]", json.dumps([{"identifier": "w", "task_keys": ["other-1"]}]).encode(), b"not json", b"{}"],
)
def test_the_probe_says_no_without_a_worker_for_the_key(fake_api: str, answer: bytes) -> None:
    FakeTaskWorkers.answer = answer
    assert not warm_client.warm_worker_connected(fake_api, KEY, timeout_seconds=5)


def test_the_probe_says_no_when_nothing_answers() -> None:
    assert not warm_client.warm_worker_connected(API, KEY, timeout_seconds=1)


def test_without_a_warm_worker_the_cli_reruns_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", API)

    def submitted(*args: object) -> None:
        raise AssertionError("submitted to a worker that is not there")

    monkeypatch.setattr(warm_client, "rerun_in_warm_worker", submitted)
    assert cli._rerun_warm("W06000004", cli_parameters(), verbose=False, quiet=True, started=0.0) is False


def test_a_warm_rerun_prints_the_result_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", API)
    monkeypatch.setattr(warm_client, "find_warm_worker", lambda api_url: True)
    monkeypatch.setattr(warm_client, "rerun_in_warm_worker", lambda council, parameters: OUTCOME)
    assert cli._rerun_warm("W06000004", cli_parameters(), verbose=False, quiet=True, started=0.0) is True
    [done] = capsys.readouterr().out.splitlines()
    assert done.startswith("Done in ")
    assert done.endswith(": run R1, wave 2018: 14 rows read, 14 loaded, 0 quarantined; 1 reports and 1 "
                         "open-data files under /tmp/out.")  # fmt: skip


def test_a_user_error_in_the_worker_is_the_cold_one_line_and_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failure = warm_client.WarmFailure("Stopped:", "x.csv: missing column(s) a.", 1)
    monkeypatch.setenv("PREFECT_API_URL", API)
    monkeypatch.setattr(warm_client, "find_warm_worker", lambda api_url: True)
    monkeypatch.setattr(warm_client, "rerun_in_warm_worker", lambda council, parameters: failure)
    with pytest.raises(typer.Exit) as stopped:
        cli._rerun_warm("W06000004", cli_parameters(), verbose=False, quiet=True, started=0.0)
    assert stopped.value.exit_code == 1
    assert capsys.readouterr().err.splitlines() == ["Stopped: x.csv: missing column(s) a."]


def test_the_task_gets_plain_values_and_gives_the_flow_the_clis_parameters() -> None:
    parameters = cli_parameters(inputs=Path("/tmp/study"), final=True)
    plain = warm_client.warm_parameters("Sir Ddinbych", parameters)
    assert plain == {
        "council": "Sir Ddinbych",
        "inputs": "/tmp/study",
        "out": "/tmp/out",
        "report_status": "final",
        "report_pdf": False,
        "task_runner": "threads",
    }
    assert all(isinstance(v, str | bool) for v in plain.values())
    council = plain.pop("council")
    assert council == "Sir Ddinbych"
    assert warm.flow_parameters_of(**plain) == parameters


def test_the_served_task_never_hits_a_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    assert warm.rerun_council_warm.cache_policy is NO_CACHE
    monkeypatch.setattr("prefect.task_worker.get_client", lambda: None)  # no API: only its tasks are read

    async def served_policy() -> Any:
        from prefect.task_worker import TaskWorker

        return TaskWorker(warm.rerun_council_warm).tasks[0].cache_policy

    # Prefect's task worker swaps NO_CACHE for its default policy (to hand the result back); that one
    # keys on the task run's own id, so two submissions with the same arguments never share a key.
    policy = asyncio.run(served_policy())
    inputs = {"council": "W06000004", "inputs": None, "out": "/tmp/out"}

    def key() -> str | None:
        run = SimpleNamespace(
            task_run=SimpleNamespace(id=uuid4(), flow_run_id=None), task=warm.rerun_council_warm
        )
        return policy.compute_key(task_ctx=run, inputs=inputs, flow_parameters={})

    first, second = key(), key()
    assert first is not None and second is not None and first != second  # noqa: PT018


def test_the_task_returns_counts_and_paths_or_the_one_line_of_a_user_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import flows.runners

    def broken(*args: object, **kwargs: object) -> None:
        raise DatasetError("responses/leadership.csv: missing column(s) lvl_leadership.")

    monkeypatch.setattr(flows.runners, "run_with_task_runner", broken)
    record = warm.rerun_council_here("W06000004", None, "/tmp/out", "draft", False, "threads")
    assert record == {
        "failure": {
            "label": "Stopped:",
            "text": "responses/leadership.csv: missing column(s) lvl_leadership. Nothing was loaded or "
            "published; the previous outputs are unchanged.",
            "exit_code": 1,
        }
    }


OUTCOME = RunOutcome(
    "R1",
    "2018",
    (FileCount("invitations.csv", 6, 6, 0), FileCount("responses/leadership.csv", 8, 8, 0)),
    Path("/tmp/out/quality/R1"),
    (Path("/tmp/out/reports/2018/W06000004.en.html"),),
    (Path("/tmp/out/open-data/2018/response_rates.csv"),),
)


def test_the_outcome_travels_as_json_of_counts_and_paths_only() -> None:
    record = outcome_record(OUTCOME)
    assert outcome_from_record(json.loads(json.dumps(record))) == OUTCOME

    def leaves(value: Any) -> Iterator[Any]:
        if isinstance(value, dict | list):
            for item in value.values() if isinstance(value, dict) else value:
                yield from leaves(item)
        else:
            yield value

    assert set(record) == {"run_id", "wave", "files", "quality_dir", "reports", "open_data"}
    assert all(isinstance(leaf, str | int) for leaf in leaves(record))


class _StartingFuture:
    """A submitted task run that, like Prefect's on a loaded machine, has no state for its first waits."""

    def __init__(self, waits_without_state: int) -> None:
        self.waits_without_state = waits_without_state
        self.waits = 0

    def wait(self, timeout: float | None = None) -> None:
        self.waits += 1
        if self.waits <= self.waits_without_state:
            raise RuntimeError("Task run 1 has no state which means it hasn't started yet.")


def test_waiting_for_a_task_run_that_has_no_state_yet_asks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: Prefect's RuntimeError reached the CLI as a traceback (a clean-clone CI run, 2026-12-08).
    monkeypatch.setattr(warm_client, "NO_STATE_POLL_SECONDS", 0.0)
    future = _StartingFuture(waits_without_state=2)
    warm_client.wait_for_task_run(future, timeout=5)
    assert future.waits == 3


def test_waiting_gives_up_at_the_time_out_and_other_errors_go_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # At the time-out it returns: the caller then reports the unfinished run in one line, not a traceback.
    monkeypatch.setattr(warm_client, "NO_STATE_POLL_SECONDS", 0.0)
    never_starts = _StartingFuture(waits_without_state=10**9)
    warm_client.wait_for_task_run(never_starts, timeout=0.05)
    assert never_starts.waits > 1

    class Broken:
        def wait(self, timeout: float | None = None) -> None:
            raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        warm_client.wait_for_task_run(Broken(), timeout=5)


def test_quiet_hides_prefects_event_service_errors_but_not_its_other_errors() -> None:
    # Before: "Service 'EventsWorker' failed to process item …" printed beside the one line when the
    # temporary server died mid-run (a clean-clone CI run, 2026-12-08).
    service = logging.getLogger("prefect._internal.concurrency")
    try:
        cli._configure_run_log(verbose=False, quiet=True)
        record = logging.LogRecord(
            service.name, logging.ERROR, __file__, 1, "EventsWorker failed", None, None
        )
        assert not service.filter(record)
        assert logging.getLogger("prefect.client").filter(record)
        cli._configure_run_log(verbose=False, quiet=False)
        assert service.filter(record)
    finally:
        cli._configure_run_log(verbose=False, quiet=False)
