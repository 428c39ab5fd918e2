"""`maturity serve`'s warm rerun worker: a CLI rerun runs there, and writes what a cold rerun writes."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from tests.integration.conftest import DemoRun
from tests.integration.test_deployments import (
    DENBIGHSHIRE,
    MATURITY,
    READY_TIMEOUT_SECONDS,
    RUN_TIMEOUT_SECONDS,
    Served,
    drop_one_officer_response,
    free_port,
    report_cells,
    serve_environment,
    wait_for_line,
)
from tests.integration.test_national_flow import run_cli

WARM_LINE = "Prefect: rerunning in the warm worker of `maturity serve`"
TASK_NAME = "warm-council-rerun"
POLL_SECONDS = 1


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`maturity serve` (with its warm worker) on free loopback ports, in its own process group.

    Function-scoped: a server that starts slowly or not at all fails this test only, not the suite.
    """
    port = free_port()
    env = serve_environment(tmp_path, port)
    log = tmp_path / "serve.log"
    command = [MATURITY, "serve", "--port", str(port), "--out", str(tmp_path / "served-out")]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*command, "--files-port", str(free_port())],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield Served(process, log, env["PREFECT_API_URL"], env)
    with contextlib.suppress(ProcessLookupError):  # the server and workers, whatever the test did
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def wait_for_warm_worker(served: Served, timeout: float) -> None:
    """Wait until Prefect's API lists a task worker (the warm one: its imports take a while)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.post(f"{served.api_url}/task_workers/filter", json={}).json():
            return
        assert served.process.poll() is None, served.log.read_text(errors="replace")
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"no warm worker after {timeout} s:\n{served.log.read_text(errors='replace')}")


def rerun_served(served: Served, study: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """`maturity rerun` of Denbighshire against the served server."""
    command = [MATURITY, "rerun", DENBIGHSHIRE, "--inputs", str(study), "--out", str(out)]
    return subprocess.run(
        command, env=served.env, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False
    )


def run_id_of(stdout: str) -> str:
    """The run id a CLI run's result line names."""
    found = re.search(r"^Done in [0-9.]+ s: run (\S+), wave", stdout, flags=re.MULTILINE)
    assert found, stdout
    return found.group(1)


def printed_summary(stdout: str, out: Path) -> list[str]:
    """The summary a run printed (from its table's title on), its run id, OUT and seconds made neutral."""
    run_id = run_id_of(stdout)
    lines = stdout.replace(run_id, "RUN").replace(str(out), "OUT").splitlines()
    start = next(i for i, line in enumerate(lines) if "Run RUN · wave" in line)
    return [re.sub(r"^Done in [0-9.]+ s", "Done in S s", line) for line in lines[start:]]


def file_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path, run ids and GX's timestamps in the names made neutral."""
    neutral = re.compile(r"\d{8}T\d{6}(-[0-9a-f]{8}|\.\d+Z)")
    return {
        neutral.sub("X", str(p.relative_to(root))): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }


def assert_same_outputs(cold: Path, warm: Path, cold_run: str, warm_run: str) -> None:
    """Byte-identical outputs; in the quality record, GX's Data Docs differ by run time even between two
    cold reruns, so of them only the names are compared."""
    assert file_bytes(cold / "current") == file_bytes(warm / "current")
    cold_quality, warm_quality = (
        file_bytes(cold / "quality" / cold_run),
        file_bytes(warm / "quality" / warm_run),
    )
    assert set(cold_quality) == set(warm_quality)
    assert {k: v for k, v in cold_quality.items() if not k.startswith("data_docs/")} == {
        k: v for k, v in warm_quality.items() if not k.startswith("data_docs/")
    }


def warm_task_runs(served: Served) -> list[dict]:
    """The served task's runs on the server, finished or not."""
    found = httpx.post(
        f"{served.api_url}/task_runs/filter", json={"task_runs": {"name": {"any_": [TASK_NAME]}}}
    ).json()
    return [run for run in found if run["name"] == TASK_NAME]


def drop_a_column(path: Path, column: str) -> None:
    """Break a response file the way a bad export does: a column the questionnaire needs is gone."""
    pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=[column]).to_csv(path, index=False)


def test_a_served_rerun_runs_in_the_warm_worker_and_writes_what_a_cold_rerun_writes(
    served: Served, demo_run: DemoRun, study_copy: Path, tmp_path: Path
) -> None:
    warm_out, cold_out = tmp_path / "warm-out", tmp_path / "cold-out"
    # The session's national run of study_copy's twin (each rerun below names study_copy as its inputs).
    demo_run.copy_to(warm_out)
    demo_run.copy_to(cold_out)
    drop_one_officer_response(study_copy, DENBIGHSHIRE)
    wait_for_line(served, "Ready. Prefect UI: http://127.0.0.1:", READY_TIMEOUT_SECONDS)
    wait_for_warm_worker(served, READY_TIMEOUT_SECONDS)

    warm = rerun_served(served, study_copy, warm_out)
    assert warm.returncode == 0, warm.stdout + warm.stderr + served.log.read_text(errors="replace")
    assert WARM_LINE in warm.stdout
    [task_run] = warm_task_runs(served)
    assert task_run["state"]["type"] == "COMPLETED"
    # The session's test server has no warm worker: the same rerun falls back to running in the CLI.
    cold = run_cli("rerun", DENBIGHSHIRE, "--inputs", str(study_copy), "--out", str(cold_out))
    assert cold.returncode == 0, cold.stdout + cold.stderr
    assert WARM_LINE not in cold.stdout
    assert printed_summary(warm.stdout, warm_out) == printed_summary(cold.stdout, cold_out)
    assert_same_outputs(cold_out, warm_out, run_id_of(cold.stdout), run_id_of(warm.stdout))
    assert "Officers 133 66 50%" in report_cells(warm_out, DENBIGHSHIRE)

    # The same arguments after a new correction run again (no cached result), as a new run.
    drop_one_officer_response(study_copy, DENBIGHSHIRE)
    again = rerun_served(served, study_copy, warm_out)
    assert again.returncode == 0, again.stdout + again.stderr
    assert WARM_LINE in again.stdout
    assert run_id_of(again.stdout) != run_id_of(warm.stdout)
    assert [run["state"]["type"] for run in warm_task_runs(served)] == ["COMPLETED", "COMPLETED"]
    assert "Officers 133 65 49%" in report_cells(warm_out, DENBIGHSHIRE)

    # A broken file: the warm worker's rerun stops with the cold rerun's one line and exit code.
    drop_a_column(study_copy / "responses" / "leadership.csv", "lvl_leadership")
    broken_warm = rerun_served(served, study_copy, warm_out)
    broken_cold = run_cli(
        "rerun", DENBIGHSHIRE, "--inputs", str(study_copy), "--out", str(cold_out), "--quiet"
    )
    assert broken_warm.returncode == broken_cold.returncode == 1, broken_warm.stderr + broken_cold.stderr
    assert broken_warm.stderr.strip().splitlines()[-1] == broken_cold.stderr.strip()
    assert broken_cold.stderr.strip().startswith("Stopped: ") and "lvl_leadership" in broken_cold.stderr  # noqa: PT018
