"""Real temporary-server starts on a new Prefect home: a database not known to be at head is migrated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prefect import __version__ as prefect_version

from operations.prefect_api import TemporaryServer
from operations.prefect_database import marker_path

# A real Prefect server: seconds on an idle machine, far more on a loaded one (a new database is migrated).
START_TIMEOUT_SECONDS = 180
SKIPPED_LINE = "migration check skipped"


def started(home: Path) -> tuple[str, list[object]]:
    """Start the temporary server, wait for it, and return its log so far and the block types it holds."""
    server = TemporaryServer.launch()
    try:
        server.wait_until_ready(START_TIMEOUT_SECONDS)
        request = urllib.request.Request(
            f"{server.api_url}/block_types/filter", data=b"{}", headers={"Content-Type": "application/json"}
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as response:
            block_types = json.load(response)
        return server.log_path.read_text(errors="replace"), block_types
    finally:
        server.stop()


def test_a_second_start_skips_the_migration_check_and_no_start_registers_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    first_log, first_blocks = started(home)
    assert SKIPPED_LINE not in first_log, "a new database is migrated"
    recorded = json.loads(marker_path(home).read_text(encoding="utf-8"))
    assert list(recorded) == [f"{prefect_version} {(home / 'prefect.db').resolve()}"]

    second_log, second_blocks = started(home)
    assert SKIPPED_LINE in second_log
    assert first_blocks == second_blocks == [], "block types are left to `prefect server start`"


def test_a_database_built_at_install_is_not_migrated_again_at_the_first_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make setup` builds Prefect's database (python -m operations.prefect_database): the first run's
    server then starts as fast as any later one, and a second `make setup` has nothing to do."""
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    prepare = [sys.executable, "-m", "operations.prefect_database"]
    # A developer's shell may name a server (`maturity serve` prints the export): then there is nothing
    # to prepare.
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    named = subprocess.run(prepare, capture_output=True, text=True, check=True, timeout=START_TIMEOUT_SECONDS)
    assert named.stdout == ""
    assert not (home / "prefect.db").exists()
    monkeypatch.delenv("PREFECT_API_URL")

    built = subprocess.run(prepare, capture_output=True, text=True, check=True, timeout=START_TIMEOUT_SECONDS)
    assert "database is ready" in built.stdout
    assert (home / "prefect.db").is_file()
    again = subprocess.run(prepare, capture_output=True, text=True, check=True, timeout=START_TIMEOUT_SECONDS)
    assert again.stdout == "", "a database at head: nothing to do, nothing said"

    first_log, _ = started(home)
    assert SKIPPED_LINE in first_log


def test_a_database_prefect_cannot_build_stops_setup_with_one_line(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where PREFECT_HOME should be a folder", encoding="utf-8")
    env = {**os.environ, "PREFECT_HOME": str(blocked)}
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    env.pop("PREFECT_API_URL", None)  # a developer's shell may name a server
    failed = subprocess.run(
        [sys.executable, "-m", "operations.prefect_database"],
        capture_output=True,
        text=True,
        env=env,
        timeout=START_TIMEOUT_SECONDS,
    )
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Prefect could not create or upgrade its database" in lines[0]
    assert "Traceback" not in failed.stderr
