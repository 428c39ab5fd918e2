"""The national flow reading its data from SQL (--source): PostgreSQL for real, and the CLI option."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tasks.contracts import DatasetError, SourceUnavailableError
from tasks.study import read_study
from tests.integration.test_national_flow import run_cli
from tests.study_formats import (
    WAREHOUSE_TABLES,
    load_study,
    study_folder_without_data,
    without_lineage,
    write_sql_source,
)


@pytest.fixture
def postgres_source(postgres_url: str, demo_study: Path) -> Iterator[str]:
    """The demo study as tables in a schema of its own, and a URL whose search_path finds them."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"maturity_extract_{uuid.uuid4().hex[:12]}"  # other tests share the database
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        write_sql_source(demo_study, postgres_url, schema=schema)
        url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def test_national_run_reads_a_postgresql_source(
    postgres_source: str, demo_study: Path, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from pydantic import SecretStr
    from sqlalchemy.engine import make_url

    from flows.national import national_run

    inputs = study_folder_without_data(demo_study, tmp_path / "study")
    state = national_run(
        inputs=inputs, out=tmp_path / "out", source=SecretStr(postgres_source), return_state=True
    )
    summary = state.result()
    with get_client(sync_client=True) as client:  # what Prefect recorded about the run
        parameters = client.read_flow_run(state.state_details.flow_run_id).parameters
    password = make_url(postgres_source).password
    assert password
    assert password not in str(parameters)

    accounting = summary.accounting
    assert accounting["source_file"].str.startswith("sql:").all()
    assert set(accounting["source_format"]) == {"sql"}
    assert (accounting["rows_quarantined"] == 0).all()
    assert (tmp_path / "out" / "reports" / "2018" / "national.en.html").is_file()
    expected = load_study(demo_study, tmp_path / "csv-warehouse")
    for name in WAREHOUSE_TABLES:
        loaded = pd.read_parquet(tmp_path / "out" / "warehouse" / name / "wave=2018")
        pd.testing.assert_frame_equal(without_lineage(loaded), without_lineage(expected[name]), obj=name)


def test_cli_source_option_reads_sqlite_and_saves_the_run_record(demo_study: Path, tmp_path: Path) -> None:
    database = tmp_path / "study.db"
    write_sql_source(demo_study, f"sqlite:///{database}")
    inputs = study_folder_without_data(demo_study, tmp_path / "study")
    out = tmp_path / "out"
    result = run_cli("run", "--inputs", str(inputs), "--source", f"sqlite:///{database}", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sql:responses_service_managers" in result.stdout
    (quality,) = (out / "quality").iterdir()
    accounting = pd.read_csv(quality / "accounting.csv")
    assert len(accounting) == 9
    assert (accounting["rows_read"] == accounting["rows_loaded"] + accounting["rows_quarantined"]).all()
    assert (quality / "data_docs" / "index.html").is_file()
    assert len(list((quality / "data_docs" / "validations").rglob("*.html"))) == 10


def test_cli_source_without_inputs_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("run", "--source", "sqlite:///nowhere.db", "--out", str(tmp_path))
    assert result.returncode == 2
    assert "--source needs --inputs" in result.stderr


@pytest.mark.parametrize(
    ("failure", "attempts"),
    [
        (SourceUnavailableError("server closed the connection unexpectedly"), 2),  # retried, then read
        (DatasetError("table invitations: not found"), 1),  # a data error: not retried
    ],
)
def test_an_sql_read_is_retried_only_when_the_database_could_not_be_reached(
    demo_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: DatasetError, attempts: int
) -> None:
    from prefect.settings import PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW, temporary_settings

    import tasks.sources
    from tasks.extract import extract_dataset_task

    url = f"sqlite:///{tmp_path / 'study.db'}"
    write_sql_source(demo_study, url)
    study = read_study(study_folder_without_data(demo_study, tmp_path / "study"), source=url)
    read = tasks.sources.read_sql_rows
    tries = []

    def fails_once(url: str, table: str) -> object:
        tries.append(table)
        if len(tries) == 1:
            raise failure
        return read(url, table)

    monkeypatch.setattr(tasks.sources, "read_sql_rows", fails_once)
    extract = extract_dataset_task.with_options(retry_delay_seconds=0)
    # The task runs on its own, outside a flow run: its log lines stay local.
    with temporary_settings({PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW: "ignore"}):
        if attempts == 1:
            with pytest.raises(DatasetError, match="not found"):
                extract(study, "invitations")
        else:
            assert (
                extract(study, "invitations").rows_read
                == pd.read_csv(demo_study / "invitations.csv").shape[0]
            )
    assert tries == ["invitations"] * attempts
