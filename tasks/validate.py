"""Validate: run each dataset's Great Expectations suite; set bad rows aside with plain reasons."""

from __future__ import annotations

import copy
import fnmatch
import json
import logging
import threading
from datetime import datetime, time
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from maturity.settings import EXPECTATIONS_DIR, configure_offline_environment, load_settings
from tasks.contracts import (
    QUARANTINE_COLUMNS,
    DatasetError,
    ExtractedTable,
    Study,
    ValidatedTable,
)

# Great Expectations is not thread-safe when several batches share one context.
_GX_LOCK = threading.Lock()
TABLE_LEVEL_PREFIX = "expect_table_"
INDEX_KEY = "suite_position"


def suite_name(dataset: str) -> str:
    """The suite a dataset is checked against: every data tool's responses share one."""
    return dataset.split(":", 1)[0]


@cache
def load_suite_definition(name: str) -> dict[str, Any]:
    """Read expectations/<name>.json as GX's suite JSON (with our column descriptions in meta)."""
    path = EXPECTATIONS_DIR / f"{name}.json"
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def expected_columns(dataset: str) -> list[str]:
    """Answer columns this dataset must carry according to config (data tool or survey questions)."""
    settings = load_settings()
    if dataset.startswith("responses:"):
        return settings.tool_answer_columns(dataset.split(":", 1)[1])
    if dataset == "public_survey":
        return [q["id"] for q in settings.public_survey["questions"]]
    return []


def expand_suite(definition: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """Replace column patterns such as lvl_* by one expectation per matching configured column."""
    suite = copy.deepcopy(definition)
    expanded = []
    for expectation in suite["expectations"]:
        column = expectation["kwargs"].get("column", "")
        if "*" not in column:
            expanded.append(expectation)
            continue
        for match in fnmatch.filter(columns, column):
            concrete = copy.deepcopy(expectation)
            concrete["kwargs"]["column"] = match
            expanded.append(concrete)
    suite["expectations"] = expanded
    return suite


def referenced_columns(suite: dict[str, Any]) -> list[str]:
    """Every column an expanded suite checks, in the order first named."""
    names: list[str] = []
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        for name in [kwargs.get("column"), kwargs.get("column_A"), kwargs.get("column_B")]:
            if name:
                names.append(name)
        names.extend(kwargs.get("column_list", []))
    return list(dict.fromkeys(names))


def suite_parameters(study: Study) -> dict[str, Any]:
    """Values the suites take from config and study.yaml ($PARAMETER in the JSON)."""
    settings = load_settings()
    rules = settings.responses
    survey = settings.public_survey
    return {
        "tool_ids": [t.id for t in settings.tools],
        "recipient_groups": list(settings.recipient_groups),
        "tool_groups": [(t.id, t.recipient_group) for t in settings.tools],
        "council_codes": [c.gss_code for c in settings.councils],
        "fieldwork_start": pd.Timestamp(datetime.combine(study.fieldwork_start, time.min)),
        "fieldwork_end": pd.Timestamp(datetime.combine(study.fieldwork_end, time.max)),
        "level_answers": rules["level_answers"],
        "statement_answers": rules["statement_answers"],
        "age_bands": survey["age_bands"],
        "sexes": survey["sexes"],
        "survey_answers": survey["answers"],
    }


def type_columns(frame: pd.DataFrame, suite: dict[str, Any]) -> pd.DataFrame:
    """Convert columns the suite declares as integer or datetime; unreadable values become empty."""
    typed = frame.copy()
    for column, spec in suite["meta"]["columns"].items():
        if column not in typed.columns:
            continue
        if spec["type"] == "integer":
            numbers = pd.to_numeric(typed[column], errors="coerce")
            whole = numbers.notna() & (numbers == numbers.round())
            typed[column] = numbers.where(whole).astype("Int64")
        elif spec["type"] == "datetime":
            typed[column] = pd.to_datetime(typed[column], errors="coerce", format="ISO8601")
    return typed


@cache
def _gx_datasource() -> Any:
    """An ephemeral GX context with one pandas data source, created on first use."""
    configure_offline_environment()
    import great_expectations as gx  # deferred: importing GX costs several seconds
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins one of its own loggers to INFO; its notes about temporary folders are not ours to show.
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context.data_sources.add_pandas("maturity")


def start_warm_up() -> threading.Thread:
    """Import GX and build its context in the background, e.g. while Prefect's server starts."""

    def warm_up() -> None:
        with _GX_LOCK:
            _gx_datasource()

    thread = threading.Thread(target=warm_up, name="gx-warm-up", daemon=True)
    thread.start()
    return thread


@cache
def _gx_batch_definition(name: str) -> Any:
    """A batch definition for in-memory DataFrames checked against one suite."""
    asset = _gx_datasource().add_dataframe_asset(name=name)
    return asset.add_batch_definition_whole_dataframe(f"{name}-batch")


def run_suite(frame: pd.DataFrame, suite: dict[str, Any], parameters: dict[str, Any]) -> list[dict]:
    """Validate a frame with GX and return the failed expectations (their suite JSON entries)."""
    import great_expectations as gx

    # GX does not report results in suite order, so each expectation carries its position in meta.
    tagged = [
        {**entry, "meta": {**entry.get("meta", {}), INDEX_KEY: position}}
        for position, entry in enumerate(suite["expectations"])
    ]
    with _GX_LOCK:
        batch = _gx_batch_definition(suite["name"]).get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            gx.ExpectationSuite(name=suite["name"], expectations=tagged),
            expectation_parameters=parameters,
            result_format="BOOLEAN_ONLY",
        )
    failed = []
    for outcome in result.results:
        position = outcome.expectation_config.meta[INDEX_KEY]
        entry = suite["expectations"][position]
        if (outcome.exception_info or {}).get("raised_exception"):
            message = outcome.exception_info.get("exception_message")
            raise DatasetError(f"check {entry['type']} on {entry['kwargs']} could not run: {message}")
        if not outcome.success:
            failed.append(position)
    return [suite["expectations"][position] for position in sorted(failed)]


def _resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def failing_rows(frame: pd.DataFrame, expectation: dict[str, Any], parameters: dict[str, Any]) -> pd.Series:
    """Rows that break one column-level expectation, found with pandas (fast at any failure count)."""
    kind = expectation["type"]
    kwargs = {k: _resolve(v, parameters) for k, v in expectation["kwargs"].items()}
    if kind == "expect_compound_columns_to_be_unique":
        return frame.duplicated(subset=kwargs["column_list"], keep=False)
    if kind == "expect_column_pair_values_to_be_in_set":
        pairs = set(map(tuple, kwargs["value_pairs_set"]))
        present = frame[kwargs["column_A"]].notna() & frame[kwargs["column_B"]].notna()
        known = [
            (a, b) in pairs for a, b in zip(frame[kwargs["column_A"]], frame[kwargs["column_B"]], strict=True)
        ]
        return present & ~pd.Series(known, index=frame.index, dtype=bool)
    column = frame[kwargs["column"]]
    present = column.notna()
    if kind == "expect_column_values_to_not_be_null":
        return ~present
    if kind == "expect_column_values_to_be_in_set":
        return present & ~column.isin(kwargs["value_set"])
    if kind == "expect_column_values_to_be_unique":
        return present & column.duplicated(keep=False)
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        inside = pd.Series(True, index=frame.index)
        if low is not None:
            inside &= column >= low
        if high is not None:
            inside &= column <= high
        return present & ~inside.fillna(False).astype(bool)
    raise DatasetError(f"expectation type {kind} has no row-level rule; add one to failing_rows().")


def quarantine_records(
    table: ExtractedTable, raw: pd.DataFrame, mask: pd.Series, expectation: dict[str, Any]
) -> pd.DataFrame:
    """One quarantine record per failing row of one expectation, showing the value as the file had it."""
    kwargs = expectation["kwargs"]
    column = kwargs.get("column") or ", ".join(
        kwargs.get("column_list") or [kwargs["column_A"], kwargs["column_B"]]
    )
    if "column" in kwargs:
        values = raw.loc[mask, kwargs["column"]]
    else:
        parts = kwargs.get("column_list") or [kwargs["column_A"], kwargs["column_B"]]
        values = raw.loc[mask, parts].astype("str").agg(" | ".join, axis=1)
    return pd.DataFrame(
        {
            "dataset": table.dataset,
            "source_file": table.source_file,
            "source_row": raw.loc[mask, "source_row"],
            "column": column,
            "value": values.astype("str").where(values.notna(), ""),
            "reason": expectation["meta"]["reason"],
        },
        columns=QUARANTINE_COLUMNS,
    )


def check_required_columns(table: ExtractedTable, study: Study, required: list[str]) -> None:
    """Stop the run with one clear message when a file lacks columns the suite needs."""
    missing = [c for c in required if c not in table.frame.columns]
    if missing:
        raise DatasetError(
            f"{study.root / table.source_file}: missing column(s) {', '.join(missing)}. "
            "Add them to the header row (see README, 'The study folder') and run again."
        )


def validate_table(table: ExtractedTable, study: Study) -> ValidatedTable:
    """Check one extracted table; return the rows fit to load and the quarantined ones."""
    if table.scope is not None and table.rows_read == 0:
        # A council may rightly have no rows in a file (no member answered); only a whole file can be empty.
        return ValidatedTable(table.dataset, table.source_file, table.sha256, 0, table.frame, table.rejected)
    suite = expand_suite(load_suite_definition(suite_name(table.dataset)), expected_columns(table.dataset))
    check_required_columns(table, study, referenced_columns(suite))
    parameters = suite_parameters(study)
    typed = type_columns(table.frame, suite)
    failed = run_suite(typed, suite, parameters)
    bad = pd.Series(False, index=typed.index)
    records = [table.rejected]
    for expectation in failed:
        if expectation["type"].startswith(TABLE_LEVEL_PREFIX):
            raise DatasetError(f"{study.root / table.source_file}: {expectation['meta']['reason']}")
        mask = failing_rows(typed, expectation, parameters)
        bad |= mask
        records.append(quarantine_records(table, table.frame, mask, expectation))
    quarantine = (
        pd.concat([r for r in records if len(r)], ignore_index=True)
        if any(len(r) for r in records)
        else table.rejected
    )
    return ValidatedTable(
        dataset=table.dataset,
        source_file=table.source_file,
        sha256=table.sha256,
        rows_read=table.rows_read,
        frame=typed.loc[~bad].reset_index(drop=True),
        quarantine=quarantine.sort_values(["source_row", "column"], kind="stable").reset_index(drop=True),
    )


@task(name="validate", task_run_name="validate-{table.dataset}", cache_policy=NONE)
def validate_table_task(table: ExtractedTable, study: Study) -> ValidatedTable:
    """Prefect wrapper: validate one extracted table and log its row accounting."""
    validated = validate_table(table, study)
    get_run_logger().info(
        "%s: %d rows read, %d loaded, %d quarantined",
        table.source_file,
        validated.rows_read,
        validated.rows_loaded,
        validated.rows_quarantined,
    )
    return validated


class AccountingError(RuntimeError):
    """Rows read do not equal rows loaded plus rows quarantined: a bug, never a data problem."""


def account_rows(tables: list[ValidatedTable]) -> pd.DataFrame:
    """Per input file: rows read, loaded and quarantined; refuses to continue if any row is unaccounted."""
    accounting = pd.DataFrame(
        [
            {
                "dataset": t.dataset,
                "source_file": t.source_file,
                "sha256": t.sha256,
                "rows_read": t.rows_read,
                "rows_loaded": t.rows_loaded,
                "rows_quarantined": t.rows_quarantined,
            }
            for t in tables
        ]
    )
    broken = accounting[accounting["rows_read"] != accounting["rows_loaded"] + accounting["rows_quarantined"]]
    if len(broken):
        raise AccountingError(f"row accounting does not balance:\n{broken.to_string(index=False)}")
    return accounting


def write_quality_record(tables: list[ValidatedTable], folder: Path) -> pd.DataFrame:
    """Save the quarantine (Parquet and CSV) and the row accounting for this run under folder."""
    accounting = account_rows(tables)
    quarantine = pd.concat([t.quarantine for t in tables], ignore_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    quarantine.to_parquet(folder / "quarantine.parquet", index=False)
    quarantine.to_csv(folder / "quarantine.csv", index=False, lineterminator="\n")
    accounting.to_csv(folder / "accounting.csv", index=False, lineterminator="\n")
    return accounting
