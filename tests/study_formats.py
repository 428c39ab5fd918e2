"""Write a CSV study folder in the other supported formats, with typed cells as real exports have them."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from flows.pipeline import Scope, check_inputs, plain_steps
from maturity.settings import load_settings
from tasks.sources import dataset_stem, sql_table_name
from tasks.study import read_study
from tasks.validate import account_rows

WHOLE_NUMBER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?\d+\.\d+")
DATETIME_COLUMNS = ("submitted_at",)
CSV_DATETIME = "%Y-%m-%d %H:%M:%S"


def study_datasets() -> list[str]:
    """Every dataset a study has, by name."""
    tools = [f"responses:{tool.id}" for tool in load_settings().tools]
    return ["invitations", *tools, "public_survey", "population"]


def read_csv_text(path: Path) -> pd.DataFrame:
    """A study CSV exactly as text ("" for an empty cell)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def typed_cell(column: str, text: str) -> Any:
    """What a spreadsheet or JSON export holds for a cell: a number, a date-time, text, or nothing."""
    if text == "":
        return None
    if column in DATETIME_COLUMNS:
        try:
            return datetime.strptime(text, CSV_DATETIME)
        except ValueError:
            pass  # not a date-time: written as the number or text it is
    if WHOLE_NUMBER.fullmatch(text):
        return int(text)
    if DECIMAL.fullmatch(text):
        return float(text)
    return text


def typed_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Column types a database or Parquet export would choose: whole numbers, timestamps, else text."""
    typed = {}
    for column in frame.columns:
        values = frame[column]
        present = values[values != ""]
        if column in DATETIME_COLUMNS:
            typed[column] = pd.to_datetime(values.replace("", None), format=CSV_DATETIME)
        elif len(present) and present.str.fullmatch(WHOLE_NUMBER.pattern).all():
            typed[column] = pd.to_numeric(values.replace("", None)).astype("Int64")
        else:
            typed[column] = values.replace("", None).astype("object")
    return pd.DataFrame(typed)


def write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """One worksheet: header on row 1, numbers as numbers and date-times as Excel dates."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        sheet.append([typed_cell(c, v) for c, v in zip(frame.columns, row, strict=True)])
    workbook.save(path)


def write_json(frame: pd.DataFrame, path: Path) -> None:
    """An array of objects; date-times in ISO 8601 with a T, as APIs send them."""
    records = []
    for row in frame.itertuples(index=False):
        record = {c: typed_cell(c, v) for c, v in zip(frame.columns, row, strict=True)}
        records.append({k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()})
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Typed columns: integers, timestamps and strings."""
    typed_columns(frame).to_parquet(path, index=False)


WRITERS = {"xlsx": write_xlsx, "json": write_json, "parquet": write_parquet}


def convert_study(source: Path, target: Path, fmt: str) -> Path:
    """Copy a CSV study folder to target with every dataset written as fmt (xlsx, json or parquet)."""
    target.mkdir(parents=True)
    (target / "responses").mkdir()
    shutil.copy(source / "study.yaml", target / "study.yaml")
    for dataset in study_datasets():
        stem = dataset_stem(dataset)
        WRITERS[fmt](read_csv_text(source / f"{stem}.csv"), target / f"{stem}.{fmt}")
    return target


def write_sql_source(source: Path, url: str, schema: str | None = None) -> None:
    """Load a CSV study folder's datasets into tables of an SQL database, one table per dataset."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for dataset in study_datasets():
                frame = typed_columns(read_csv_text(source / f"{dataset_stem(dataset)}.csv"))
                frame.to_sql(sql_table_name(dataset), connection, schema=schema, index=False)
    finally:
        engine.dispose()


def study_folder_without_data(source: Path, target: Path) -> Path:
    """A study folder holding only study.yaml, for runs whose data come from --source."""
    target.mkdir(parents=True)
    shutil.copy(source / "study.yaml", target / "study.yaml")
    return target


LINEAGE = ["source_file", "source_row", "source_sha256"]
WAREHOUSE_TABLES = ["invitations", "respondents", "answers", "comments", "public_survey", "population"]


def load_study(root: Path, warehouse: Path, source: str | None = None) -> dict[str, pd.DataFrame]:
    """Extract, validate and load a study with plain functions; return every warehouse table."""
    study = read_study(root, source=source)
    steps = plain_steps()
    tables = check_inputs(steps, study, Scope.national())
    account_rows(tables)
    steps.load(tables, warehouse, study.wave)
    return {name: pd.read_parquet(warehouse / name / f"wave={study.wave}") for name in WAREHOUSE_TABLES}


def without_lineage(frame: pd.DataFrame) -> pd.DataFrame:
    """A warehouse table less the columns saying where each row came from (they differ by format)."""
    return frame.drop(columns=[c for c in LINEAGE if c in frame.columns])
