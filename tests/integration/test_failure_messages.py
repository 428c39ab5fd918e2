"""A failed flow run says, as its state message, the same one line the CLI prints; the registry lists it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from flows.rerun import council_rerun
from maturity.settings import registry_url
from tasks.contracts import DatasetError
from warehouse.registry import recent_runs


def test_an_unknown_council_fails_at_once_with_its_reason_as_the_state_message(tmp_path: Path) -> None:
    # Before: "Flow run encountered an exception: DatasetError: ..." and no registry entry for the run.
    out = tmp_path / "out"
    out.mkdir()
    started = time.monotonic()
    state = council_rerun(council="Narnia", out=out, return_state=True)
    seconds = time.monotonic() - started
    assert state.is_failed()
    assert state.message.startswith("Stopped: "), state.message
    assert "Narnia" in state.message and "\n" not in state.message  # noqa: PT018
    assert not state.message.startswith("Flow run encountered")
    assert seconds < 10, seconds  # the first task refuses it: no extract, no server round trips of work
    with pytest.raises(DatasetError):
        state.result()
    [recorded] = recent_runs(registry_url(out), 5).to_dict("records")
    assert recorded["flow"] == "council-rerun"
    assert recorded["status"] == "failed"
    assert recorded["message"] == state.message
    assert recorded["prefect_flow_run_name"]
