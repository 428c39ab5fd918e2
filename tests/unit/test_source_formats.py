"""The same study read from CSV, XLSX, JSON, Parquet or SQLite gives the same warehouse."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tasks.extract import extract_dataset
from tasks.study import read_study
from tests.study_formats import (
    WAREHOUSE_TABLES,
    convert_study,
    load_study,
    study_folder_without_data,
    without_lineage,
    write_sql_source,
)


@pytest.fixture(scope="module")
def csv_warehouse(demo_study: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    return load_study(demo_study, tmp_path_factory.mktemp("csv-warehouse"))


def assert_same_warehouse(actual: dict[str, pd.DataFrame], expected: dict[str, pd.DataFrame]) -> None:
    for name in WAREHOUSE_TABLES:
        assert len(expected[name]) > 0, name
        pd.testing.assert_frame_equal(
            without_lineage(actual[name]), without_lineage(expected[name]), obj=name
        )


@pytest.mark.parametrize("fmt", ["xlsx", "json", "parquet"])
def test_a_study_in_another_file_format_loads_the_same(
    fmt: str, demo_study: Path, csv_warehouse: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    root = convert_study(demo_study, tmp_path / "study", fmt)
    loaded = load_study(root, tmp_path / "warehouse")
    assert_same_warehouse(loaded, csv_warehouse)
    assert loaded["respondents"]["source_file"].str.endswith(f".{fmt}").all()
    if fmt == "xlsx":  # a worksheet numbers rows as the CSV does (header on row 1)
        pd.testing.assert_series_equal(
            loaded["respondents"]["source_row"], csv_warehouse["respondents"]["source_row"]
        )
    else:  # JSON and Parquet rows are records 1, 2, ...
        assert loaded["respondents"]["source_row"].min() == 1


def test_a_study_in_sqlite_loads_the_same(
    demo_study: Path, csv_warehouse: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    write_sql_source(demo_study, url)
    root = study_folder_without_data(demo_study, tmp_path / "study")
    loaded = load_study(root, tmp_path / "warehouse", source=url)
    assert_same_warehouse(loaded, csv_warehouse)
    assert set(loaded["invitations"]["source_file"]) == {"sql:invitations"}
    assert loaded["respondents"]["source_file"].str.startswith("sql:responses_").all()


def test_a_missing_sql_table_names_the_table_and_the_tables_found(demo_study: Path, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    from tasks.contracts import DatasetError

    url = f"sqlite:///{tmp_path / 'study.db'}"
    write_sql_source(demo_study, url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE responses_leadership"))
    engine.dispose()
    study = read_study(study_folder_without_data(demo_study, tmp_path / "study"), source=url)
    with pytest.raises(DatasetError, match=r"table responses_leadership in sqlite:///.*: not found \(tables"):
        extract_dataset(study, "responses:leadership")


def test_an_sql_url_never_shows_its_password(demo_study: Path, tmp_path: Path) -> None:
    from tasks.contracts import DatasetError

    url = "postgresql+psycopg://analyst:s3cret-pw@127.0.0.1:9/nowhere"  # port 9: nothing listens
    study = read_study(study_folder_without_data(demo_study, tmp_path / "study"), source=url)
    with pytest.raises(DatasetError) as raised:
        extract_dataset(study, "invitations")
    assert "s3cret-pw" not in str(raised.value)
    assert "could not be read" in str(raised.value)
    assert "s3cret-pw" not in repr(study)
