"""The suite's own isolation: what one in-process CLI run changes does not reach the next test.

These two tests run in file order (pytest's default, and one file stays on one xdist worker): the first
points Prefect at an address as an in-process `maturity` command does, the second checks it is gone.
"""

from __future__ import annotations

import os

import prefect.context

from operations import prefect_api

LEAKED_ADDRESS = "http://127.0.0.1:9/api"
SEEN: dict[str, object] = {}


def test_a_cli_run_points_this_process_at_its_server() -> None:
    SEEN["settings"] = prefect.context.GLOBAL_SETTINGS_CONTEXT
    prefect_api.point_prefect_at(LEAKED_ADDRESS)
    assert os.environ["PREFECT_API_URL"] == LEAKED_ADDRESS
    assert prefect.context.GLOBAL_SETTINGS_CONTEXT is not SEEN["settings"], "Prefect's settings were re-read"


def test_the_next_test_starts_without_that_address() -> None:
    assert os.environ.get("PREFECT_API_URL") != LEAKED_ADDRESS
    if "settings" in SEEN:  # the test above ran first, as in the whole suite
        assert prefect.context.GLOBAL_SETTINGS_CONTEXT is SEEN["settings"]
    assert prefect_api._server is None
