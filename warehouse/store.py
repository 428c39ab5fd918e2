"""Parquet warehouse inside a run's version folder: partitioned writes and reads.

Writes happen only inside a version that is not yet visible (warehouse/versions.py), so they need no
staging of their own. Files are replaced, never rewritten in place, because versions share files
through hard links.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from maturity.output_contracts import WarehouseContract, check_warehouse_rows, warehouse_contracts
from warehouse.versions import inside, remove_tree

PART_FILE = "part-0.parquet"
_COUNCIL_PARTITIONING = ds.partitioning(pa.schema([("gss_code", pa.string())]), flavor="hive")


def table_dir(warehouse: Path, name: str, wave: str) -> Path:
    """Folder holding one table's partitions for one wave."""
    return inside(warehouse, name, f"wave={wave}")


def partition_dir(warehouse: Path, name: str, wave: str, gss_code: str) -> Path:
    """Folder holding one council's partition of a table for a wave."""
    return inside(table_dir(warehouse, name, wave), f"gss_code={gss_code}")


def to_arrow(frame: pd.DataFrame, spec: WarehouseContract) -> pa.Table:
    """Cast a frame to the table's schema plus gss_code, sorted by council then the table's order."""
    schema = spec.schema.append(pa.field("gss_code", pa.string(), nullable=False))
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    order = [("gss_code", "ascending"), *[(key, "ascending") for key in spec.key]]
    return table.sort_by(order).replace_schema_metadata(None)


def split_by_council(table: pa.Table) -> list[tuple[str, pa.Table]]:
    """Zero-copy slices of a table sorted by gss_code, one per council, without the gss_code column."""
    codes = table.column("gss_code").to_numpy(zero_copy_only=False)
    if len(codes) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    body = table.drop_columns(["gss_code"])
    return [
        (str(codes[start]), body.slice(start, end - start)) for start, end in zip(starts, ends, strict=True)
    ]


def replace_file(path: Path, content: bytes) -> None:
    """Write a file by renaming a finished temporary file over it (never in place: links are shared)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def write_table(
    warehouse: Path, name: str, wave: str, frame: pd.DataFrame, councils: Iterable[str] | None = None
) -> None:
    """Replace a table's partitions for a wave: all of them, or only the councils named."""
    spec = warehouse_contracts()[name]
    if councils is None:
        replaced = [table_dir(warehouse, name, wave)]
    else:
        scope = set(councils)
        replaced = [partition_dir(warehouse, name, wave, gss_code) for gss_code in scope]
        outside = set(frame["gss_code"]) - scope
        if outside:
            raise ValueError(f"{name}: rows for {sorted(outside)} outside the councils being replaced")
    check_warehouse_rows(frame, spec)  # before anything is removed
    for folder in replaced:
        remove_tree(folder, warehouse)
    table_dir(warehouse, name, wave).mkdir(parents=True, exist_ok=True)
    for gss_code, part in split_by_council(to_arrow(frame, spec)):
        target = partition_dir(warehouse, name, wave, gss_code)
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, target / PART_FILE, compression="zstd")


def partition_files(
    warehouse: Path, name: str, wave: str, councils: Iterable[str] | None = None
) -> list[Path]:
    """A table's partition files for a wave, in council order: all councils, or those named that exist."""
    if councils is None:
        return sorted(table_dir(warehouse, name, wave).glob(f"gss_code=*/{PART_FILE}"))
    return [
        p for c in sorted(councils) if (p := partition_dir(warehouse, name, wave, c) / PART_FILE).exists()
    ]


def read_arrow(
    warehouse: Path,
    name: str,
    wave: str,
    councils: Iterable[str] | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """Read a table's partitions for a wave as Arrow (all councils, or those named), gss_code included."""
    spec = warehouse_contracts()[name]
    folder = table_dir(warehouse, name, wave)
    schema = spec.schema.append(pa.field("gss_code", pa.string()))
    files = partition_files(warehouse, name, wave, councils)
    if not files:
        empty = schema.empty_table()
        return empty.select(columns) if columns else empty
    dataset = ds.dataset(
        [str(f) for f in files],
        format="parquet",
        partitioning=_COUNCIL_PARTITIONING,
        partition_base_dir=str(folder),
        schema=schema,
    )
    return dataset.to_table(columns=columns)


def read_table(warehouse: Path, name: str, wave: str, councils: Iterable[str] | None = None) -> pd.DataFrame:
    """Read a table's partitions for a wave (all, or only the councils named), gss_code from folder names."""
    return read_arrow(warehouse, name, wave, councils).to_pandas()
