"""The one line a failure is told in, and advice in the words of whatever started the run."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from operations import failures
from tasks.contracts import DatasetError


def test_a_data_error_is_one_stopped_line_with_exit_code_1() -> None:
    failure = failures.describe_failure(DatasetError("x.csv: row 3,\n column a is bad."))
    assert failure is not None
    assert failure.exit_code == failures.EXIT_DATA_ERROR
    assert failure.line.startswith("Stopped: x.csv: row 3, column a is bad.")
    assert "\n" not in failure.line


def test_a_full_disk_is_exit_code_3_and_a_bug_is_named_as_one() -> None:
    full = failures.describe_failure(OSError(errno.ENOSPC, "No space left on device", "/out/x"))
    assert full is not None and full.exit_code == failures.EXIT_ENVIRONMENT_ERROR  # noqa: PT018
    assert failures.describe_failure(KeyError("gss_code")) is None
    line = failures.failure_line(ValueError("first line\nsecond line"))
    assert line == "Failed: ValueError: first line (a bug in the pipeline: the traceback is in the run log)"


@pytest.mark.parametrize(("deployment_id", "expected"), [(None, "cli words"), ("1f2e", "deployment words")])
def test_advice_follows_the_interface(deployment_id, expected, monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.runtime import deployment

    monkeypatch.setattr(deployment, "get_id", lambda: deployment_id)
    assert failures.advise("cli words", "deployment words") == expected


def test_a_rerun_from_a_deployment_is_told_to_run_the_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: "Run `maturity run` first, or give --inputs" to someone who started a deployment.
    from prefect.runtime import deployment

    from flows.rerun import locate_rerun_study

    monkeypatch.setattr(deployment, "get_id", lambda: "1f2e")
    with pytest.raises(DatasetError) as stopped:
        locate_rerun_study(None, tmp_path, None)
    assert "national-run/weekly deployment" in str(stopped.value)
    assert "maturity run" not in str(stopped.value)
