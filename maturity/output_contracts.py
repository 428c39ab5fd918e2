"""One contract per output table (contracts/): the pyarrow schemas, release metadata, docs and output checks.

The inputs have one contract each in expectations/; the outputs have theirs in contracts/warehouse/
(a file per warehouse table) and contracts/open_data/ (a file per published table, sharing the column
descriptions in columns.yaml). Everything that describes or checks an output table is generated from
these files, so a column is described once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import pandas as pd
import pyarrow as pa

from maturity.settings import PROJECT_ROOT, load_open_data_config, read_yaml_file

CONTRACTS_DIR = PROJECT_ROOT / "contracts"
WAREHOUSE_CONTRACTS = CONTRACTS_DIR / "warehouse"
OPEN_DATA_CONTRACTS = CONTRACTS_DIR / "open_data"
OPEN_DATA_COLUMNS = OPEN_DATA_CONTRACTS / "columns.yaml"
PARTITION_COLUMNS = ("wave", "gss_code")  # in a warehouse table's folder names, not its files


class OutputContractError(RuntimeError):
    """A table the pipeline produced breaks its contract: a bug in the pipeline, never in the data."""


@dataclass(frozen=True)
class WarehouseContract:
    """A warehouse table: its columns and types, the key that identifies a row, and its restriction."""

    name: str
    description: str
    restricted: bool
    key: tuple[str, ...]
    columns: tuple[dict[str, Any], ...]

    @cached_property
    def schema(self) -> pa.Schema:
        """The table's pyarrow schema (partition columns excluded)."""
        return pa.schema(
            [
                pa.field(c["name"], pa.type_for_alias(c["type"]), nullable=c.get("nullable", True))
                for c in self.columns
            ]
        )

    @property
    def required(self) -> list[str]:
        """Columns that may never be empty."""
        return [c["name"] for c in self.columns if not c.get("nullable", True)]


@dataclass(frozen=True)
class OpenDataContract:
    """A published table: its title, Table Schema fields, primary key and the keys that name a council."""

    name: str
    title: str
    fields: list[dict[str, Any]]
    primary_key: list[str]
    foreign_keys: list[str]

    @property
    def columns(self) -> list[str]:
        return [f["name"] for f in self.fields]


@cache
def warehouse_contracts() -> dict[str, WarehouseContract]:
    """Every warehouse table's contract, by name."""
    contracts = {}
    for path in sorted(WAREHOUSE_CONTRACTS.glob("*.yaml")):
        spec = read_yaml_file(path)
        contracts[spec["name"]] = WarehouseContract(
            name=spec["name"],
            description=spec["description"],
            restricted=bool(spec["restricted"]),
            key=tuple(spec["key"]),
            columns=tuple(spec["columns"]),
        )
    return contracts


@cache
def open_data_contracts() -> tuple[OpenDataContract, ...]:
    """The release's tables, in the order config/open_data.yaml lists them, with their Table Schema fields."""
    columns = read_yaml_file(OPEN_DATA_COLUMNS)
    contracts = []
    for name in load_open_data_config().tables:
        spec = read_yaml_file(OPEN_DATA_CONTRACTS / f"{name}.yaml")
        fields = [{"name": key, **columns[key]} for key in spec["fields"]]
        published = {key: field["name"] for key, field in zip(spec["fields"], fields, strict=True)}
        contracts.append(
            OpenDataContract(
                name=spec["name"],
                title=spec["title"],
                fields=fields,
                primary_key=[published.get(k, k) for k in spec["primary_key"]],
                foreign_keys=list(spec.get("foreign_keys", [])),
            )
        )
    return tuple(contracts)


def _broken(name: str, contract_file: str, problem: str) -> OutputContractError:
    return OutputContractError(
        f"{name}: breaks its contract ({contract_file}): {problem}. This is a bug in the pipeline, not in "
        "the data: report it with this line."
    )


def check_warehouse_rows(frame: pd.DataFrame, contract: WarehouseContract) -> None:
    """Refuse rows with an empty required value or a repeated key (within a wave and council)."""
    where = f"contracts/warehouse/{contract.name}.yaml"
    missing = [name for name in contract.schema.names if name not in frame.columns]
    if missing:
        raise _broken(contract.name, where, f"no column {', '.join(missing)}")
    for column in contract.required:
        empty = int(frame[column].isna().sum())
        if empty:
            raise _broken(contract.name, where, f"{empty} rows with no {column}")
    key = [c for c in PARTITION_COLUMNS if c in frame.columns] + list(contract.key)
    repeated = int(frame.duplicated(subset=key).sum())
    if repeated:
        raise _broken(contract.name, where, f"{repeated} rows repeat the key ({', '.join(key)})")


def _constraint_problems(values: pd.Series, constraints: dict[str, Any]) -> list[str]:
    """What in a published column's non-empty values breaks its Table Schema constraints."""
    present = values.dropna()
    present = present[present.astype("str") != ""]
    problems = []
    if "enum" in constraints and not present.isin(constraints["enum"]).all():
        problems.append(f"values outside {constraints['enum']}")
    if "pattern" in constraints:
        pattern = re.compile(constraints["pattern"])
        if not all(pattern.fullmatch(str(value)) for value in present):
            problems.append(f"values not matching {constraints['pattern']}")
    numbers = pd.to_numeric(present, errors="coerce") if {"minimum", "maximum"} & set(constraints) else None
    if numbers is not None and "minimum" in constraints and (numbers < constraints["minimum"]).any():
        problems.append(f"values below {constraints['minimum']}")
    if numbers is not None and "maximum" in constraints and (numbers > constraints["maximum"]).any():
        problems.append(f"values above {constraints['maximum']}")
    return problems


def check_open_table(table: pd.DataFrame, contract: OpenDataContract, council_codes: set[str]) -> None:
    """dbt-style checks on a table about to be published: columns, unique complete key, constraints, codes."""
    where = f"contracts/open_data/{contract.name}.yaml"
    if list(table.columns) != contract.columns:
        raise _broken(contract.name, where, f"columns {list(table.columns)}, not {contract.columns}")
    key = list(contract.primary_key)
    if table[key].isna().any().any():
        raise _broken(contract.name, where, f"an empty value in the primary key ({', '.join(key)})")
    if table.duplicated(subset=key).any():
        raise _broken(contract.name, where, f"rows repeat the primary key ({', '.join(key)})")
    for field in contract.fields:
        for problem in _constraint_problems(table[field["name"]], field.get("constraints", {})):
            raise _broken(contract.name, where, f"column {field['name']} has {problem}")
    for column in contract.foreign_keys:
        unknown = set(table[column].dropna()) - council_codes
        if unknown:
            raise _broken(contract.name, where, f"{len(unknown)} {column} values not in the councils table")


def render_tables_doc() -> str:
    """docs/tables.md: every output table and column, generated from the contracts."""
    lines = [
        "# Output tables",
        "",
        "Generated from `contracts/` by `python -m maturity.output_contracts` (a test fails when this page",
        "is out of date). Each table's contract also generates its pyarrow schema (warehouse) or its",
        "Frictionless and CSVW metadata (open data), and every table is checked against it when written.",
        "",
        "## Open data (`open-data/<wave>/`)",
        "",
    ]
    for contract in open_data_contracts():
        lines += [f"### {contract.name}", "", contract.title + ".", ""]
        lines += [f"Primary key: {', '.join(contract.primary_key)}.", ""]
        lines += ["| column | type | unit | description |", "| --- | --- | --- | --- |"]
        for field in contract.fields:
            unit = field.get("unit", "")
            lines.append(f"| {field['name']} | {field['type']} | {unit} | {field['description']} |")
        lines.append("")
    lines += [
        "## Warehouse (`warehouse/<table>/wave=<wave>/gss_code=<council>/`)",
        "",
        "Restricted tables hold row-level answers and never leave OUT.",
        "",
    ]
    for contract in warehouse_contracts().values():
        restricted = " Restricted." if contract.restricted else ""
        lines += [f"### {contract.name}", "", contract.description + restricted, ""]
        lines += [f"Key within a council: {', '.join(contract.key)}.", ""]
        lines += ["| column | type | required |", "| --- | --- | --- |"]
        for column in contract.columns:
            required = "yes" if not column.get("nullable", True) else ""
            lines.append(f"| {column['name']} | {column['type']} | {required} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    (PROJECT_ROOT / "docs" / "tables.md").write_text(render_tables_doc(), encoding="utf-8")
