"""Shapes passed between stages: the study folder, extracted tables and quarantine records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from maturity.settings import load_settings

QUARANTINE_COLUMNS = ["dataset", "source_file", "source_row", "column", "value", "reason"]
LINEAGE_COLUMNS = ["source_file", "source_row", "source_sha256"]
# A cell that is just a number ("-1", "+44", "1.5e3") is not a formula, whatever its first character.
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


class DatasetError(Exception):
    """A whole input is unusable (missing, unreadable, wrong columns, empty): the run stops cleanly."""


class SourceUnavailableError(DatasetError):
    """An SQL source could not be reached (connection refused or lost, timeout): worth trying again."""


@dataclass(frozen=True)
class Study:
    """What study.yaml says about a study folder."""

    root: Path
    wave: str
    title: str
    fieldwork_start: date
    fieldwork_end: date
    demo: bool = False
    title_cy: str | None = None  # the title in Welsh (study.yaml title_cy); Welsh reports fall back to title
    # SQLAlchemy URL the data come from instead of the folder's files (--source); may hold a password.
    source: str | None = field(default=None, repr=False)

    @property
    def responses_dir(self) -> Path:
        return self.root / "responses"


@dataclass
class ExtractedTable:
    """One input file after extract: its rows in contract columns plus lineage, and rows rejected."""

    dataset: str
    source_file: str
    sha256: str
    rows_read: int
    frame: pd.DataFrame
    rejected: pd.DataFrame = field(default_factory=lambda: empty_quarantine())
    location: str = ""  # where the rows came from, for messages: a full path or "table T in URL"
    source_format: str = "csv"
    encoding: str = ""
    # The council a rerun restricted this table to; None for a national run.
    scope: str | None = None


@dataclass
class ValidatedTable:
    """One input file after validation: rows fit to load, and every row set aside with its reasons."""

    dataset: str
    source_file: str
    sha256: str
    rows_read: int
    frame: pd.DataFrame
    quarantine: pd.DataFrame
    location: str = ""
    source_format: str = "csv"
    encoding: str = ""
    # Great Expectations' validation results for this input, kept for the run's Data Docs.
    gx_results: list[Any] = field(default_factory=list, repr=False)

    @property
    def rows_quarantined(self) -> int:
        return int(self.quarantine["source_row"].nunique()) if len(self.quarantine) else 0

    @property
    def rows_loaded(self) -> int:
        return len(self.frame)


def empty_quarantine() -> pd.DataFrame:
    """A quarantine table with no rows but the right columns."""
    return pd.DataFrame(
        {c: pd.Series(dtype="int64" if c == "source_row" else "str") for c in QUARANTINE_COLUMNS}
    )


def neutralise_formula(value: Any) -> Any:
    """Prefix text a spreadsheet would run as a formula (=, +, -, @ ...) with an apostrophe."""
    if not isinstance(value, str):
        return value
    start = value.lstrip(" ")
    if not start.startswith(load_settings().outputs.formula_prefixes):
        return value
    return value if _PLAIN_NUMBER.fullmatch(start) else "'" + value


def write_csv_for_people(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV meant to be opened in a spreadsheet, with every text cell safe from formula injection."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]) and not pd.api.types.is_bool_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_formula, na_action="ignore")
    safe.to_csv(path, index=False, lineterminator="\n")
