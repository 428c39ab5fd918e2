"""Orchestration without a server: task runner choice, retry conditions, artifact content."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from prefect.states import Completed, Failed
from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.runners import build_task_runner, worker_count
from maturity.settings import load_orchestration_config, load_settings
from tasks.artifacts import (
    NOT_AVAILABLE,
    artifact_key,
    markdown_table,
    maturity_table,
    quality_failures,
    run_links,
    run_summary_markdown,
)
from tasks.contracts import DatasetError, SourceUnavailableError
from tasks.distribute import copy_release_to_target_task
from tasks.extract import extract_dataset_task
from tasks.retries import retry_if_source_unavailable, retry_unless_data_error
from tasks.sources import read_sql_rows


def failed(error: BaseException) -> Failed:
    """A failed task-run state carrying the exception, as Prefect builds it."""
    return Failed(data=error, message=str(error))


# --- task runners ---


def test_each_task_runner_name_builds_its_runner() -> None:
    assert isinstance(build_task_runner("threads"), ThreadPoolTaskRunner)
    processes = build_task_runner("processes")
    assert isinstance(processes, ProcessPoolTaskRunner)
    assert processes._max_workers == worker_count()
    remote = build_task_runner("dask", "tcp://10.0.0.5:8786")
    assert isinstance(remote, DaskTaskRunner)
    assert remote.address == "tcp://10.0.0.5:8786"
    local = build_task_runner("dask")
    assert local.address is None
    assert local.cluster_kwargs["n_workers"] == worker_count()
    assert local.cluster_kwargs["processes"] is True


def test_an_unknown_runner_or_an_address_without_dask_is_refused() -> None:
    with pytest.raises(ValueError, match="one of threads, processes, dask"):
        build_task_runner("ray")
    with pytest.raises(ValueError, match="dask task runner only"):
        build_task_runner("processes", "tcp://10.0.0.5:8786")


# --- retries ---


@pytest.mark.parametrize(
    ("error", "upload_retried", "extract_retried"),
    [
        (OSError("connection reset"), True, False),
        (TimeoutError("read timed out"), True, False),
        (SourceUnavailableError("server closed the connection"), True, True),
        (DatasetError("missing column(s) lvl_leadership"), False, False),
    ],
)
def test_only_transient_failures_are_retried(
    error: BaseException, upload_retried: bool, extract_retried: bool
) -> None:
    state = failed(error)
    assert retry_unless_data_error(None, None, state) is upload_retried
    assert retry_if_source_unavailable(None, None, state) is extract_retried


def test_a_completed_state_is_never_retried() -> None:
    assert retry_unless_data_error(None, None, Completed(data=1)) is False
    assert retry_if_source_unavailable(None, None, Completed(data=1)) is False


def test_sql_reads_and_uploads_retry_with_exponential_backoff() -> None:
    config = load_orchestration_config().retries
    factor = config.backoff_factor
    assert extract_dataset_task.retries == config.attempts
    assert extract_dataset_task.retry_condition_fn is retry_if_source_unavailable
    assert copy_release_to_target_task.retries == config.attempts
    assert copy_release_to_target_task.retry_condition_fn is retry_unless_data_error
    delays = [factor * 2**n for n in range(config.attempts)]
    assert copy_release_to_target_task.retry_delay_seconds == delays


def test_an_unreachable_database_is_transient_and_a_missing_table_is_not(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="could not be read"):
        read_sql_rows("postgresql+psycopg://reader@127.0.0.1:1/study?connect_timeout=2", "invitations")
    database = tmp_path / "study.db"
    sqlite3.connect(database).close()
    with pytest.raises(DatasetError, match="not found") as raised:
        read_sql_rows(f"sqlite:///{database}", "invitations")
    assert not isinstance(raised.value, SourceUnavailableError)


# --- artifacts ---


def test_markdown_tables_escape_pipes_and_say_when_empty() -> None:
    table = markdown_table(pd.DataFrame({"reason": ["a | b"], "rows": [2]}))
    assert table.splitlines() == ["| reason | rows |", "| --- | --- |", "| a \\| b | 2 |"]
    assert markdown_table(pd.DataFrame(columns=["reason"])) == "_none_"


def test_quality_failures_count_rows_per_failed_check() -> None:
    quarantine = pd.DataFrame(
        {
            "dataset": ["public_survey"] * 3 + ["invitations"],
            "source_file": ["public_survey.csv"] * 3 + ["invitations.csv"],
            "source_row": [4, 4, 9, 2],
            "column": ["sex", "sex", "sex", "invited"],
            "value": ["x", "x", "y", "-1"],
            "reason": ["Unknown sex."] * 3 + ["Invited must be positive."],
        }
    )
    failures = quality_failures(quarantine)
    assert failures.to_dict("records") == [
        {"dataset": "public_survey", "column": "sex", "reason": "Unknown sex.", "rows": 2},
        {"dataset": "invitations", "column": "invited", "reason": "Invited must be positive.", "rows": 1},
    ]
    summary = run_summary_markdown(
        "national-run R1 · wave 2018",
        pd.DataFrame(
            {
                "source_file": ["public_survey.csv", "invitations.csv"],
                "rows_read": [750, 132],
                "rows_loaded": [748, 131],
                "rows_quarantined": [2, 1],
            }
        ),
        quarantine,
        Path("/out/quality/R1"),
        "- Reports: 46 files",
    )
    assert "| public_survey.csv | 750 | 748 | 2 |" in summary
    assert "| **total** | 882 | 879 | 3 |" in summary
    assert "| public_survey | sex | Unknown sex. | 2 |" in summary
    assert "3 row(s) quarantined" in summary


def test_the_maturity_table_has_every_council_and_a_dash_for_no_level() -> None:
    levels = pd.DataFrame(
        {
            "gss_code": ["W06000004", "W06000004", "W06000001", "W06000002"],
            "characteristic": ["leadership", "open_data", "leadership", "leadership"],
            "recipient_group": ["all", "all", "officers", "all"],
            "level": pd.array([2, None, 3, None], dtype="Int8"),
            "status": ["", "", "", "[c]"],
        }
    )
    rows = {row["gss_code"]: row for row in maturity_table(levels)}
    assert len(rows) == len(load_settings().councils)
    assert rows["W06000004"]["council"] == "Denbighshire"
    assert rows["W06000004"]["leadership"] == 2
    assert rows["W06000004"]["open_data"] == NOT_AVAILABLE
    assert rows["W06000001"]["leadership"] == NOT_AVAILABLE  # officers alone are not the combined level
    assert rows["W06000002"]["leadership"] == "[c]", "withheld in the release: its mark, never a level"


def test_artifact_links_point_at_the_run_version_served_over_http(tmp_path: Path, monkeypatch) -> None:
    # Before: file:// links through `current`, which a browser refuses from the Prefect UI.
    from operations.files import FILES_ROOT_VARIABLE, FILES_URL_VARIABLE

    for name in load_orchestration_config().artifacts:
        assert re.fullmatch(r"[a-z0-9-]+", artifact_key("national-run", name))
    run_id = "20180101T000000-0a1b2c3d"
    version = tmp_path / ".versions" / run_id
    quality = tmp_path / "quality" / run_id
    (quality / "data_docs").mkdir(parents=True)
    (quality / "data_docs" / "index.html").write_text("docs")
    (version / "open-data" / "2018").mkdir(parents=True)
    reports = [version / "reports" / "2018" / n for n in ("W06000004.en.html", "national.en.html")]

    monkeypatch.delenv(FILES_URL_VARIABLE, raising=False)
    assert run_links("national-run", quality, reports, version / "open-data" / "2018") == []  # no dead links

    monkeypatch.setenv(FILES_URL_VARIABLE, "http://127.0.0.1:4201")
    monkeypatch.setenv(FILES_ROOT_VARIABLE, str(tmp_path))
    links = run_links("national-run", quality, reports, version / "open-data" / "2018")
    base = "http://127.0.0.1:4201"
    assert [(link.key, link.url) for link in links] == [
        ("national-run-reports", f"{base}/.versions/{run_id}/reports/2018/national.en.html"),
        ("national-run-data-docs", f"{base}/quality/{run_id}/data_docs/index.html"),
        ("national-run-open-data", f"{base}/.versions/{run_id}/open-data/2018/"),
    ]


def test_reports_are_batched_in_order_one_batch_per_worker() -> None:
    from tasks.report import Report, batch_reports

    reports = [Report(f"W0600000{i}", Path("reports")) for i in range(7)]
    assert batch_reports(reports, 1) == [reports]
    three = batch_reports(reports, 3)
    assert [len(batch) for batch in three] == [3, 2, 2]
    assert [r for batch in three for r in batch] == reports
    assert len(batch_reports(reports[:2], 8)) == 2  # never an empty batch


def test_local_runs_send_no_heartbeats() -> None:
    """A local run has nobody watching heartbeats; Prefect's heartbeat thread costs ~1 s per flow run."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    from flows.runners import local_run_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 180}):
        with local_run_settings():
            assert get_current_settings().flows.heartbeat_frequency is None
        assert get_current_settings().flows.heartbeat_frequency == 180
