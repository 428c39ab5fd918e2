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
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:  # what the UI shows of the run
        shown = client.read_flow_run(state.state_details.flow_run_id)
    assert (shown.state.type.value, shown.state.message) == ("FAILED", state.message)
    assert shown.total_run_time.total_seconds() < 2, shown.total_run_time
    [recorded] = recent_runs(registry_url(out), 5).to_dict("records")
    assert recorded["flow"] == "council-rerun"
    assert recorded["status"] == "failed"
    assert recorded["message"] == state.message
    assert recorded["prefect_flow_run_name"]


def test_the_deployments_run_with_their_shipped_defaults_from_the_folder_they_start_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What prefect.yaml's deployments run: no parameters but a rerun's council, relative `out: output`.

    The deployments' pull step moves each run to the folder `prefect deploy` ran in; here that is tmp_path.
    Before: the weekly run failed in record-inputs ("base_directory must be an absolute path").
    """
    from flows.national import national_run
    from flows.publish import publish_release

    monkeypatch.chdir(tmp_path)
    national = national_run(return_state=True)
    assert national.is_completed(), national.message
    rerun = council_rerun(council="Sir Ddinbych", return_state=True)
    assert rerun.is_completed(), rerun.message
    release = publish_release(return_state=True)
    assert release.is_completed(), release.message
    out = tmp_path / "output"
    assert (out / "reports" / "2018" / "W06000004.en.html").is_file()
    assert (out / "quality" / national.result().run_id / "data_docs" / "index.html").is_file()
    flows = [run["flow"] for run in recent_runs(registry_url(out), 5).to_dict("records")]
    assert flows == ["open-data-publish", "council-rerun", "national-run"]
