"""An optional extra that is missing, met where it is used: a deployment run passes no CLI check first.

Each test makes one package look uninstalled (None in sys.modules: its import fails and find_spec finds
nothing) and asserts the one line naming the extra and the command, as a MissingExtraError. The CLI's
checks of the same options, before Prefect starts, are in test_cli.py.
"""

from __future__ import annotations

import logging
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from prefect.states import Failed

from maturity.extras import EXTRAS, MissingExtraError
from operations import failures

ROOT = Path(__file__).resolve().parents[2]


def hint(extra: str) -> str:
    return f"pip install 'maturity[{extra}]' (or uv sync --extra {extra}), then run again."


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make a module look uninstalled for the test."""

    def remove(module: str) -> None:
        monkeypatch.setitem(sys.modules, module, None)

    return remove


def test_the_extras_table_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project["optional-dependencies"]
    base = " ".join(project["dependencies"])
    assert set(EXTRAS) == {"dask", "s3", "pdf", "postgres"}
    for name, extra in EXTRAS.items():
        assert any(r.startswith(extra.package) for r in optional[name]), name
        assert extra.package not in base, f"{extra.package} is optional: not in dependencies"
    assert optional["all"] == [f"maturity[{','.join(EXTRAS)}]"]


def test_the_dask_task_runner_without_its_extra(without) -> None:
    from flows.runners import build_task_runner

    without("prefect_dask")
    with pytest.raises(MissingExtraError) as raised:
        build_task_runner("dask")
    assert str(raised.value) == (
        "--task-runner dask needs the dask extra (prefect-dask is not installed): " + hint("dask")
    )
    build_task_runner("threads")  # the others need nothing optional


def test_an_s3_target_without_its_extra_is_never_retried(without, tmp_path: Path) -> None:
    from tasks.distribute import check_target_history, copy_release_to_target
    from tasks.retries import retry_unless_data_error

    without("s3fs")
    expected = "--to s3:// needs the s3 extra (s3fs is not installed): " + hint("s3")
    with pytest.raises(MissingExtraError) as raised:
        check_target_history("s3://bucket/open-data", "2018", {})
    assert str(raised.value) == expected
    with pytest.raises(MissingExtraError, match="needs the s3 extra"):
        copy_release_to_target(tmp_path / "2018", "2018.1", "s3://bucket/open-data")
    state = Failed(data=raised.value, message=str(raised.value))
    assert retry_unless_data_error(None, None, state) is False, "retrying cannot install it"


def html_report(tmp_path: Path) -> Path:
    path = tmp_path / "W06000004.en.html"
    path.write_text("<html><body>report</body></html>", encoding="utf-8")
    return path


def test_pdfs_without_their_extra_stop_before_any_worker_starts(
    without, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasks import report

    without("weasyprint")
    monkeypatch.setattr(report, "ProcessPoolExecutor", None)  # a worker started would fail on None()
    html = html_report(tmp_path)
    with pytest.raises(MissingExtraError) as raised:
        report.finish_reports([[html]], pdf=True)
    assert str(raised.value) == "--pdf needs the pdf extra (weasyprint is not installed): " + hint("pdf")
    assert not html.with_suffix(".pdf").exists()
    with pytest.raises(MissingExtraError, match="needs the pdf extra"):
        report.print_pdfs([html, html])


def test_pdfs_from_a_deployment_or_left_by_an_earlier_run_name_what_asked_for_them(
    without, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.runtime import deployment

    from tasks.report import finish_reports

    without("weasyprint")
    html = html_report(tmp_path)
    monkeypatch.setattr(deployment, "get_id", lambda: "1f2e")
    with pytest.raises(MissingExtraError, match=r"^report_pdf needs the pdf extra \(weasyprint"):
        finish_reports([[html]], pdf=True)
    html.with_suffix(".pdf").write_bytes(b"%PDF from an earlier run")  # reprinted so it never lags its HTML
    with pytest.raises(MissingExtraError) as raised:
        finish_reports([[html]], pdf=False)
    assert str(raised.value) == (
        "Reprinting the PDF reports an earlier run left needs the pdf extra (weasyprint is not installed): "
        + hint("pdf")
    )


def test_a_postgres_source_without_its_extra(without) -> None:
    from tasks.sources import read_sql_rows

    without("psycopg")
    with pytest.raises(MissingExtraError) as raised:
        read_sql_rows("postgresql+psycopg://reader:s3cret@127.0.0.1:1/study", "invitations")
    assert str(raised.value) == (
        "--source postgresql+psycopg:// needs the postgres extra (psycopg is not installed): "
        + hint("postgres")
    )


def test_a_postgres_registry_without_its_extra(without) -> None:
    from warehouse import registry

    without("psycopg")
    with pytest.raises(MissingExtraError) as raised:
        registry.registry_engine("postgresql+psycopg://registrar:s3cret@db/registry")
    assert str(raised.value) == (
        "MATURITY_REGISTRY_URL postgresql+psycopg:// needs the postgres extra (psycopg is not installed): "
        + hint("postgres")
    )


def test_sqlite_and_local_folders_need_no_extra(without, tmp_path: Path) -> None:
    from tasks.distribute import check_target_history
    from warehouse import registry

    for module in ("psycopg", "s3fs"):
        without(module)
    registry.registry_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    check_target_history(str(tmp_path / "portal"), "2018", {})


def test_a_flow_run_without_an_extra_ends_in_its_one_line_with_exit_code_2() -> None:
    error = MissingExtraError("--pdf needs the pdf extra (weasyprint is not installed): " + hint("pdf"))
    failure = failures.describe_failure(error)
    assert failure is not None
    assert failure.exit_code == failures.EXIT_USAGE_ERROR
    assert failures.failure_line(error) == (
        f"Error: {error} Nothing was published; the previous outputs are unchanged."
    )


def test_the_run_log_shows_no_traceback_for_a_missing_extra() -> None:
    from operations.cli import _QuietRunLog

    error = MissingExtraError("--pdf needs the pdf extra")
    record = logging.LogRecord(
        "prefect.task_runs", logging.ERROR, __file__, 1, "Task run failed", None, (type(error), error, None)
    )
    assert _QuietRunLog(verbose=False).filter(record)
    assert record.exc_info is None
