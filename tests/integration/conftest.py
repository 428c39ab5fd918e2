"""One Prefect test server for every integration test in the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    """Start Prefect's temporary test server once; it is slow to start (about 6-14 s).

    Flows run with the CLI's settings for local runs (no heartbeat thread, about 1 s less per flow run).
    """
    from prefect.testing.utilities import prefect_test_harness

    from flows.runners import local_run_settings

    with prefect_test_harness(server_startup_timeout=90), local_run_settings():
        yield
