"""Parquet warehouse: write a wave's partitions to staging and swap them in whole; read them back."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from warehouse.schemas import TABLES, TableSpec

PART_FILE = "part-0.parquet"
_COUNCIL_PARTITIONING = ds.partitioning(pa.schema([("gss_code", pa.string())]), flavor="hive")


def table_dir(root: Path, name: str, wave: str) -> Path:
    """Folder holding one table's partitions for one wave."""
    return root / name / f"wave={wave}"


def to_arrow(frame: pd.DataFrame, spec: TableSpec) -> pa.Table:
    """Cast a frame to the table's schema, in its sort order, without pandas metadata."""
    ordered = frame.sort_values(list(spec.sort_by), kind="stable")[spec.schema.names]
    table = pa.Table.from_pandas(ordered, schema=spec.schema, preserve_index=False)
    return table.replace_schema_metadata(None)


def _write_partitions(folder: Path, frame: pd.DataFrame, spec: TableSpec) -> None:
    for gss_code, part in frame.groupby("gss_code", sort=True):
        target = folder / f"gss_code={gss_code}"
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(to_arrow(part, spec), target / PART_FILE, compression="zstd")


def swap_in(staged: Path, target: Path) -> None:
    """Replace target by staged with renames, so readers see the old or the new folder, never a mix."""
    target.parent.mkdir(parents=True, exist_ok=True)
    retired = target.with_name(f".retired-{target.name}-{uuid.uuid4().hex[:8]}")
    if target.exists():
        target.rename(retired)
    staged.rename(target)
    shutil.rmtree(retired, ignore_errors=True)


def write_table(root: Path, name: str, wave: str, frame: pd.DataFrame) -> Path:
    """Write one table's partitions for a wave, replacing what the wave held before."""
    spec = TABLES[name]
    staging = root / ".staging" / uuid.uuid4().hex
    staged = staging / name
    staged.mkdir(parents=True)
    try:
        _write_partitions(staged, frame, spec)
        target = table_dir(root, name, wave)
        swap_in(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def replace_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write files into a staging sibling of target, then swap it in whole."""
    staged = target.with_name(f".staging-{target.name}-{uuid.uuid4().hex[:8]}")
    staged.mkdir(parents=True)
    try:
        for name, content in files.items():
            (staged / name).write_bytes(content)
        swap_in(staged, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def read_table(root: Path, name: str, wave: str) -> pd.DataFrame:
    """Read one table's partitions for a wave, with gss_code restored from the folder names."""
    spec = TABLES[name]
    folder = table_dir(root, name, wave)
    schema = spec.schema.append(pa.field("gss_code", pa.string()))
    if not folder.exists():
        return schema.empty_table().to_pandas()
    dataset = ds.dataset(folder, format="parquet", partitioning=_COUNCIL_PARTITIONING, schema=schema)
    return dataset.to_table().to_pandas()
