"""The national flow end to end on the demo study, under one Prefect test server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from maturity.settings import load_settings
from tasks.contracts import DatasetError
from tests.integration.conftest import DemoRun

COUNCIL_CODES = [c.gss_code for c in load_settings().councils]


def test_national_run_writes_every_output(demo_run: DemoRun) -> None:
    summary, tmp_path = demo_run.summary, demo_run.out

    reports = sorted(p.name for p in (tmp_path / "reports" / "2018").iterdir())
    stems = [*COUNCIL_CODES, "national"]
    pages = [f"{stem}.{lang}.html" for stem in stems for lang in ("en", "cy")]
    assert reports == sorted([*pages, "index.html"])  # the site index lists them all
    page = (tmp_path / "reports" / "2018" / "W06000004.en.html").read_text()
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    for row in ("Officers 133 67 50%", "Elected Members 47 9 19%", "Total 180 76 42%"):
        assert row in cells

    rates = pd.read_csv(tmp_path / "open-data" / "2018" / "response_rates.csv")
    levels = pd.read_csv(tmp_path / "open-data" / "2018" / "maturity_levels.csv")
    assert set(rates["gss_code"]) == {*COUNCIL_CODES, "W92000004"}
    assert set(levels["gss_code"]) == {*COUNCIL_CODES, "W92000004"}  # Wales rows pool the councils

    accounting = summary.accounting
    assert len(accounting) == 9
    assert (accounting["rows_read"] == accounting["rows_loaded"] + accounting["rows_quarantined"]).all()
    assert (summary.quality_dir / "quarantine.csv").is_file()

    partitions = sorted(p.name for p in (tmp_path / "warehouse" / "answers" / "wave=2018").iterdir())
    assert partitions == [f"gss_code={code}" for code in COUNCIL_CODES]
    assert (tmp_path / "current").is_symlink()
    assert len([p for p in (tmp_path / ".versions").iterdir() if p.is_dir()]) == 1


def test_a_broken_file_stops_the_run_before_anything_is_loaded(study_copy: Path, tmp_path: Path) -> None:
    from flows.national import national_run

    path = study_copy / "responses" / "elected_members.csv"
    pd.read_csv(path, dtype=str).drop(columns=["lvl_leadership"]).to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"elected_members\.csv: missing column\(s\) lvl_leadership"):
        national_run(inputs=study_copy, out=tmp_path)
    assert not (tmp_path / "warehouse").exists()
    assert not (tmp_path / "reports").exists()
    assert not (tmp_path / "open-data").exists()


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed `maturity` command against the session's Prefect test server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "200"}
    command = [str(Path(sys.executable).parent / "maturity"), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_cli_without_a_prefect_server_starts_one_for_the_run_and_stops_it(
    demo_study: Path, tmp_path: Path
) -> None:
    """`make run` on a fresh machine: no PREFECT_API_URL, so the CLI starts its own server (Prefect's app)
    before its imports; the process-pool workers report to it rather than starting servers of their own."""
    home = tmp_path / "prefect-home"  # a new Prefect database, as on a fresh machine
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update({"PREFECT_HOME": str(home), "COLUMNS": "200"})
    command = [str(Path(sys.executable).parent / "maturity"), "run", "--inputs", str(demo_study)]
    command += ["--out", str(tmp_path / "out"), "--task-runner", "processes"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    started = re.search(r"temporary server for this run on http://127\.0\.0\.1:(\d+)/api", result.stdout)
    assert started, output
    assert "Starting temporary server" not in output, "Prefect started a second server (here or in a worker)"
    assert "View at" not in output, "a link to the UI of a server that serves none"
    assert (tmp_path / "out" / "reports" / "2018" / "national.en.html").is_file()

    import socket
    import sqlite3

    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(started.group(1)))) != 0, "the server outlived the run"
    with sqlite3.connect(home / "prefect.db") as database:
        runs = database.execute(
            "SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id"
        ).fetchall()
    assert runs == [("national-run", "COMPLETED")], "the run was recorded by the server the CLI started"


def run_cli_on_a_terminal(*args: str, cwd: Path) -> tuple[int, str]:
    """Run `maturity` with a pseudo-terminal as its screen; return its exit code and what it showed."""
    import pty
    import select

    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "COLUMNS": "120", "TERM": "xterm"}
    env.pop("NO_COLOR", None)
    parent, child = pty.openpty()
    command = [str(Path(sys.executable).parent / "maturity"), *args]
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdin=child, stdout=child, stderr=child, close_fds=True
    )
    os.close(child)
    shown = bytearray()
    while True:
        ready, _, _ = select.select([parent], [], [], 300)
        if not ready:
            process.kill()
            raise AssertionError("the CLI showed nothing for 300 s")
        try:
            chunk = os.read(parent, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        shown += chunk
    os.close(parent)
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode(errors="replace")).replace("\r", "\n")
    return process.wait(timeout=60), screen


def test_cli_on_a_terminal_runs_the_bundled_demo_into_a_relative_out_with_a_bar_per_stage(
    tmp_path: Path,
) -> None:
    # No --inputs: the bundled demo, written into OUT; a relative OUT, from a folder that is not the
    # repository. (One CLI run for both checks: each cold run of the demo costs the suite ~25 s.)
    code, screen = run_cli_on_a_terminal("run", "--out", "relative-out", cwd=tmp_path)
    assert code == 0, screen
    assert "Starting temporary server" not in screen
    out = tmp_path / "relative-out"
    assert (out / "demo-study" / "study.yaml").is_file()
    assert (out / "reports" / "2018" / "national.en.html").is_file()
    assert list((out / "quality").glob("*/data_docs/index.html"))
    finished = [line.split()[1] for line in screen.splitlines() if line.startswith("✓ ")]
    for stage in ("start", "extract", "validate", "load", "score", "reports", "publish", "run"):
        assert stage in finished, screen
    assert "responses/service_managers.csv: read as csv" in screen, "the run log is still shown"
    assert "Done in" in screen
    assert "Traceback" not in screen


def test_cli_data_error_is_one_clear_message_without_traceback(study_copy: Path, tmp_path: Path) -> None:
    (study_copy / "invitations.csv").unlink()
    result = run_cli("run", "--inputs", str(study_copy), "--out", str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "invitations.csv: not found" in output
    assert "Traceback" not in output
    assert not (tmp_path / "warehouse").exists()
