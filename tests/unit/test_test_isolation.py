"""The suite's own isolation: what one in-process CLI run changes does not reach the next test.

These two tests run in file order (pytest's default, and one file stays on one xdist worker): the first
points Prefect at an address as an in-process `maturity` command does, the second checks it is gone.
"""

from __future__ import annotations

import os

from operations import prefect_api

LEAKED_ADDRESS = "http://127.0.0.1:9/api"


def test_a_cli_run_points_this_process_at_its_server() -> None:
    from prefect.settings import PREFECT_API_URL

    prefect_api.point_prefect_at(LEAKED_ADDRESS)
    assert os.environ["PREFECT_API_URL"] == LEAKED_ADDRESS
    assert PREFECT_API_URL.value() == LEAKED_ADDRESS


def test_the_next_test_starts_without_that_address() -> None:
    from prefect.settings import PREFECT_API_URL

    assert os.environ.get("PREFECT_API_URL") != LEAKED_ADDRESS
    assert PREFECT_API_URL.value() != LEAKED_ADDRESS
    assert prefect_api._server is None
