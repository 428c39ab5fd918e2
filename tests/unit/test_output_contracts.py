"""One contract per output table: what we write and publish is checked against it, and documented by it."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from maturity.output_contracts import (
    OutputContractError,
    check_open_table,
    check_warehouse_rows,
    open_data_contracts,
    render_tables_doc,
    warehouse_contracts,
)
from maturity.settings import PROJECT_ROOT, load_open_data_config
from tasks.publish import open_answer_tables, open_tables


@pytest.fixture(scope="module")
def published(scored_demo) -> dict[str, pd.DataFrame]:
    """The demo's open-data tables as a release publishes them."""
    return open_tables(scored_demo.scores, open_answer_tables(scored_demo.scores, None))


def first_row_set(table: pd.DataFrame, column: str, value: object) -> pd.DataFrame:
    """The table with one cell of its first row replaced."""
    broken = table.copy()
    broken[column] = broken[column].astype("object")
    broken.iloc[0, broken.columns.get_loc(column)] = value
    return broken


def contract_named(name: str):
    return next(c for c in open_data_contracts() if c.name == name)


def test_every_warehouse_file_has_its_contracts_schema(scored_demo) -> None:
    contracts = warehouse_contracts()
    written = sorted(scored_demo.warehouse.glob("*/wave=*/gss_code=*/part-0.parquet"))
    tables = {path.parts[-4] for path in written}
    assert tables <= set(contracts)
    assert len(tables) >= 12
    for path in written:
        stored, contract = pq.read_schema(path), contracts[path.parts[-4]].schema
        assert stored.names == contract.names, path
        for found, declared in zip(stored, contract, strict=True):
            assert found.nullable == declared.nullable, (path, found.name)
            if pa.types.is_timestamp(declared.type):  # Parquet keeps no seconds unit: it stores ms
                assert pa.types.is_timestamp(found.type), (path, found.name)
            else:
                assert found.type == declared.type, (path, found.name)


def test_a_repeated_warehouse_key_or_a_missing_required_value_stops_the_write() -> None:
    contract = warehouse_contracts()["invitations"]
    rows = pd.DataFrame(
        {
            "tool_id": ["digital_ict", "digital_ict"],
            "recipient_group": ["officers", "officers"],
            "invited": [10, 12],
            "source_file": ["invitations.csv"] * 2,
            "source_row": [2, 3],
            "source_sha256": ["0" * 64] * 2,
            "gss_code": ["W06000004", "W06000005"],
        }
    )
    check_warehouse_rows(rows, contract)  # two councils: the key repeats nowhere
    with pytest.raises(
        OutputContractError, match=r"invitations: .*1 rows repeat the key \(gss_code, tool_id\)"
    ):
        check_warehouse_rows(rows.assign(gss_code="W06000004"), contract)
    with pytest.raises(OutputContractError, match="1 rows with no invited"):
        check_warehouse_rows(rows.assign(invited=[10, None]), contract)
    with pytest.raises(OutputContractError, match="no column invited"):
        check_warehouse_rows(rows.drop(columns="invited"), contract)


def test_the_demo_release_meets_every_contract(published: dict[str, pd.DataFrame]) -> None:
    change_tables = load_open_data_config().wave_change_tables
    in_release = [c for c in open_data_contracts() if c.name not in change_tables]
    assert list(published) == [c.name for c in in_release]  # 2018 has no earlier wave: no change tables
    codes = set(published["councils"]["gss_code"])
    for contract in in_release:
        check_open_table(published[contract.name], contract, codes)


@pytest.mark.parametrize(
    ("table", "break_it", "problem"),
    [
        ("maturity_levels", lambda t: pd.concat([t, t.head(1)]), "rows repeat the primary key"),
        ("maturity_levels", lambda t: first_row_set(t, "level", 4), "level has values above 3"),
        ("maturity_levels", lambda t: first_row_set(t, "recipient_group", "everyone"), "values outside"),
        ("response_rates", lambda t: first_row_set(t, "gss_code", "W06999999"), "not in the councils table"),
        ("statement_results", lambda t: first_row_set(t, "pct_agree", -1.0), "pct_agree has values below 0"),
        ("councils", lambda t: first_row_set(t, "gss_code", "E06000001"), "not matching"),
        ("councils", lambda t: t[["council_name_en", "gss_code", "council_name_cy"]], "columns"),
    ],
)
def test_a_table_that_breaks_its_contract_is_never_published(
    published: dict[str, pd.DataFrame], table: str, break_it, problem: str
) -> None:
    codes = set(published["councils"]["gss_code"])
    with pytest.raises(OutputContractError, match=problem):
        check_open_table(break_it(published[table].copy()), contract_named(table), codes)


def test_the_tables_page_is_generated_from_the_contracts() -> None:
    page = (PROJECT_ROOT / "docs" / "tables.md").read_text(encoding="utf-8")
    assert page == render_tables_doc(), "docs/tables.md is stale: run python -m maturity.output_contracts"
    for contract in warehouse_contracts().values():
        assert f"### {contract.name}" in page
