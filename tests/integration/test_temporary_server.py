"""Two real starts of the temporary server on a new Prefect home: the first migrates, the second need not."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from prefect import __version__ as prefect_version

from operations.prefect_api import TemporaryServer
from operations.temporary_server import marker_path

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

    first_log, first_blocks = started(home)
    assert SKIPPED_LINE not in first_log, "a new database is migrated"
    recorded = json.loads(marker_path(home).read_text(encoding="utf-8"))
    assert list(recorded) == [f"{prefect_version} {(home / 'prefect.db').resolve()}"]

    second_log, second_blocks = started(home)
    assert SKIPPED_LINE in second_log
    assert first_blocks == second_blocks == [], "block types are left to `prefect server start`"
