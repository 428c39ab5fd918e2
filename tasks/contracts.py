"""Shapes passed between stages: the study folder, extracted tables and quarantine records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from maturity.settings import UnsafeValueError, check_path_value, describe_value, load_settings
from maturity.textcheck import LIMITS_FILE, flow_depth, input_limits, text_problem

QUARANTINE_COLUMNS = ["dataset", "source_file", "source_row", "column", "value", "reason"]
LINEAGE_COLUMNS = ["source_file", "source_row", "source_sha256"]
STUDY_KEYS = ("wave", "title", "fieldwork_start", "fieldwork_end")
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
    if not start.startswith(tuple(load_settings().outputs["formula_prefixes"])):
        return value
    return value if _PLAIN_NUMBER.fullmatch(start) else "'" + value


def write_csv_for_people(frame: pd.DataFrame, path: Path) -> None:
    """Write a CSV meant to be opened in a spreadsheet, with every text cell safe from formula injection."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]) and not pd.api.types.is_bool_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_formula, na_action="ignore")
    safe.to_csv(path, index=False, lineterminator="\n")


def yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong with a YAML document and where, without quoting the document (PyYAML does)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or type(error).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())[:80]


def read_study_yaml(path: Path) -> dict[str, Any]:
    """study.yaml as a mapping, checked before it is parsed: size, UTF-8, control characters, aliases."""
    limits = input_limits()
    size = path.stat().st_size
    if size > (most := limits["max_study_yaml_bytes"]):
        raise DatasetError(
            f"{path}: is {size} bytes, more than inputs.max_study_yaml_bytes ({most})"
            f" in {LIMITS_FILE}; study.yaml holds only {', '.join(STUDY_KEYS)}. Fix it and run again."
        )
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{path}: line {line} is not UTF-8 (a file saved as Windows-1252 or another encoding). Save "
            "study.yaml as UTF-8 and run again."
        ) from None
    problem = text_problem(text)
    if problem:
        raise DatasetError(f"{path}: {problem}")
    if flow_depth(text) > limits["max_yaml_depth"]:
        raise DatasetError(
            f"{path}: is nested too deeply to read (more than inputs.max_yaml_depth, "
            f"{limits['max_yaml_depth']}, in {LIMITS_FILE}). Fix the file and run again."
        )
    try:
        aliases = sum(
            isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)
        )
        if aliases > limits["max_yaml_aliases"]:
            raise DatasetError(
                f"{path}: uses {aliases} YAML aliases (*name), more than inputs.max_yaml_aliases "
                f"({limits['max_yaml_aliases']}) in {LIMITS_FILE}. Write each value out in full and run "
                "again."
            )
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        problem = yaml_problem(error)
        raise DatasetError(f"{path}: not valid YAML ({problem}). Fix the file and run again.") from None
    except RecursionError:
        raise DatasetError(
            f"{path}: is nested too deeply to read (lists or mappings within each other). Fix the file "
            "and run again."
        ) from None
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise DatasetError(
            f"{path}: must be a mapping of keys to values (wave: 2018, title: ..., one per line), not a "
            f"{type(spec).__name__}. Fix it (`maturity demo --out DIR` writes an example) and run again."
        )
    return spec


def read_study(root: Path, wave: str | None = None, source: str | None = None) -> Study:
    """Read study.yaml, checking the keys the pipeline needs and any --wave the user gave."""
    path = root / "study.yaml"
    if path.is_symlink():
        from tasks.sources import link_error  # deferred: sources builds on this module

        raise link_error(path)
    if not path.is_file():
        raise DatasetError(
            f"{path}: not found. A study folder needs study.yaml with {', '.join(STUDY_KEYS)} "
            "(see docs/inputs.md); `maturity demo --out DIR` writes an example."
        )
    spec = read_study_yaml(path)
    missing = [k for k in STUDY_KEYS if k not in spec]
    if missing:
        raise DatasetError(f"{path}: missing {', '.join(missing)}. Add them and run again.")
    try:
        study_wave = check_path_value("wave", spec["wave"], f"{path} wave")
    except UnsafeValueError as error:
        raise DatasetError(str(error)) from None
    if wave is not None and wave != study_wave:
        raise DatasetError(
            f"{path} is for wave {study_wave} but --wave {wave} was given. "
            "Leave out --wave or point --inputs at that wave's study folder."
        )
    try:
        start = date.fromisoformat(str(spec["fieldwork_start"]))
        end = date.fromisoformat(str(spec["fieldwork_end"]))
    except ValueError:
        raise DatasetError(
            f"{path}: fieldwork dates must be YYYY-MM-DD (fieldwork_start "
            f"{describe_value(spec['fieldwork_start'])}, fieldwork_end "
            f"{describe_value(spec['fieldwork_end'])}). Fix them and run again."
        ) from None
    if end < start:
        raise DatasetError(f"{path}: fieldwork_end {end} is before fieldwork_start {start}.")
    study = Study(
        root=root,
        wave=study_wave,
        title=str(spec["title"]),
        fieldwork_start=start,
        fieldwork_end=end,
        demo=bool(spec.get("demo", False)),
        source=source or None,
    )
    from tasks.sources import check_study_files  # deferred: sources builds on this module

    check_study_files(study)
    return study
