"""Validate: run each dataset's Great Expectations suite; set bad rows aside with plain reasons."""

from __future__ import annotations

import copy
import fnmatch
import json
from datetime import datetime, time
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from maturity.output_contracts import warehouse_contracts
from maturity.settings import EXPECTATIONS_DIR, load_settings
from maturity.textcheck import LIMITS_FILE, input_limits
from tasks.contracts import (
    LINEAGE_COLUMNS,
    QUARANTINE_COLUMNS,
    DatasetError,
    ExtractedTable,
    Study,
    ValidatedTable,
    empty_quarantine,
    write_csv_for_people,
)
from tasks.gx_suites import SuiteError, check_suite_here, render_data_docs
from tasks.sources import header_summary
from tasks.validator import (
    KeptResult,
    check_suite_in_validator,
    render_data_docs_in_validator,
    validator_running,
)

# The column naming each row of a table for GX: its row number in the input file.
ROW_ID = "source_row"
COUNCIL_COLUMNS = ("council", "gss_code")  # extraction reads the first and adds the second
# The response counts (one row per council x tool) are not rows of a file; they get a row number of their own.
COUNTS_ROW_ID = "counts_row"
# Excel stores a date-time as days since 1899-12-30; a date cell exported as "General" shows that number.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
EXCEL_SERIAL_RANGE = (1, 2958465)  # 1900-01-01 .. 9999-12-31, the dates Excel can hold
TIMEZONE_SUFFIX = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
RESPONSE_COUNTS_SUITE = "response_counts"


def suite_name(dataset: str) -> str:
    """The suite a dataset is checked against: every data tool's responses share one."""
    return dataset.split(":", 1)[0]


@cache
def load_suite_definition(name: str) -> dict[str, Any]:
    """Read expectations/<name>.json as GX's suite JSON (with our column descriptions in meta)."""
    path = EXPECTATIONS_DIR / f"{name}.json"
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def expected_columns(dataset: str, wave: str) -> list[str]:
    """Answer columns this dataset must carry in a wave according to config (tool or survey questions)."""
    settings = load_settings()
    if dataset.startswith("responses:"):
        return settings.tool_answer_columns(dataset.split(":", 1)[1], wave)
    if dataset == "public_survey":
        return settings.public_survey.question_ids
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
        "level_answers": list(rules.level_answers),
        "statement_answers": list(rules.statement_answers),
        "age_bands": list(survey.age_bands),
        "sexes": list(survey.sexes),
        "survey_answers": list(survey.answers),
        "max_comment_chars": rules.max_comment_chars,
    }


LARGEST_EXACT_WHOLE = 2**53  # the largest whole number a float64 holds exactly


def parse_datetimes(values: pd.Series) -> pd.Series:
    """ISO date-times (a zone, if given, converted to the study's), or Excel serial numbers; to the second."""
    text = values.astype("str")
    zoned = text.str.contains(TIMEZONE_SUFFIX, regex=True, na=False)
    parsed = pd.to_datetime(text.where(~zoned), errors="coerce", format="ISO8601")
    if zoned.any():
        local = load_settings().inputs.timezone
        converted = pd.to_datetime(text.where(zoned), errors="coerce", format="ISO8601", utc=True)
        parsed = parsed.where(~zoned, converted.dt.tz_convert(local).dt.tz_localize(None))
    numbers = pd.to_numeric(text.where(parsed.isna()), errors="coerce")
    serial = numbers.between(*EXCEL_SERIAL_RANGE)
    if serial.any():
        parsed = parsed.where(~serial, EXCEL_EPOCH + pd.to_timedelta(numbers.where(serial), unit="D"))
    return parsed.astype("datetime64[us]").dt.round("s")


def type_columns(frame: pd.DataFrame, suite: dict[str, Any]) -> pd.DataFrame:
    """Convert columns the suite declares as integer or datetime; unreadable values become empty."""
    typed = frame.copy()
    for column, spec in suite["meta"]["columns"].items():
        if column not in typed.columns:
            continue
        if spec["type"] == "integer":
            numbers = pd.to_numeric(typed[column], errors="coerce")
            # Whole and exact as a float: 1e20, inf or 2**63 - 1 would overflow Int64 or its sums, and no
            # count of people comes near; such a value is quarantined as not a whole number.
            whole = numbers.notna() & (numbers == numbers.round()) & (numbers.abs() <= LARGEST_EXACT_WHOLE)
            typed[column] = numbers.where(whole).astype("Int64")
        elif spec["type"] == "datetime":
            typed[column] = parse_datetimes(typed[column])
    return typed


def run_suite(
    frame: pd.DataFrame,
    suite: dict[str, Any],
    parameters: dict[str, Any],
    label: str | None = None,
    row_id: str = ROW_ID,
) -> tuple[list[tuple[dict, list[Any] | None]], Any]:
    """Validate a frame with GX; return each failed expectation (suite JSON entry, in suite order) with the
    ids of its failing rows (values of the frame's row_id column; None if it checks the whole table), and
    GX's result, counts only (or its handle, when the validator process checks it: tasks/validator.py).

    label names the suite in Data Docs (one per dataset, as each data tool asks its own statements).
    """
    if validator_running():
        return check_suite_in_validator(frame, suite, parameters, label, row_id)
    return check_suite_here(frame, suite, parameters, label, row_id)


def check_failing_row_count(where: str, expectation: dict[str, Any], count: int) -> None:
    """Stop on a check that more rows fail than inputs.max_failing_rows_per_check: the file, not its rows."""
    limit = input_limits().max_failing_rows_per_check
    if count > limit:
        rule = expectation["meta"]["reason"].split(". ")[0].rstrip(".")
        raise DatasetError(
            f"{where}: {count} rows fail the check on {checked_columns(expectation)} ({rule}), more than "
            f"inputs.max_failing_rows_per_check ({limit}) in {LIMITS_FILE}. So many usually mean a wrong "
            "file or setting (such as the fieldwork window in study.yaml), not bad rows: check it and run "
            "again, or raise the limit if the rows really are bad."
        )


def checked_columns(expectation: dict[str, Any]) -> str:
    """The column, or columns, one expectation checks, as the quarantine names them."""
    kwargs = expectation["kwargs"]
    parts = kwargs.get("column_list") or [kwargs.get("column_A"), kwargs.get("column_B")]
    return kwargs.get("column") or ", ".join(parts)


def quarantine_records(
    table: ExtractedTable, raw: pd.DataFrame, mask: pd.Series, expectation: dict[str, Any]
) -> pd.DataFrame:
    """One quarantine record per failing row of one expectation, showing the value as the file had it."""
    kwargs = expectation["kwargs"]
    column = checked_columns(expectation)
    if "column" in kwargs:
        values = raw.loc[mask, kwargs["column"]]
    else:
        parts = kwargs.get("column_list") or [kwargs["column_A"], kwargs["column_B"]]
        values = raw.loc[mask, parts].astype("str").fillna("").agg(" | ".join, axis=1)
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


def describe_input(table: ExtractedTable | ValidatedTable, study: Study) -> str:
    """Where a table came from, for messages: its full path, or its table in the SQL source."""
    return table.location or str(study.root / table.source_file)


def unread_columns(table: ExtractedTable, wave: str) -> list[str]:
    """Columns of an input that no check and no warehouse table uses: they are not stored, so a run
    names them rather than drop them unseen (identity columns are already gone)."""
    suite = expand_suite(
        load_suite_definition(suite_name(table.dataset)), expected_columns(table.dataset, wave)
    )
    stored = {name for spec in warehouse_contracts().values() for name in spec.schema.names}
    read = {*referenced_columns(suite), *stored, *LINEAGE_COLUMNS, *COUNCIL_COLUMNS, ROW_ID}
    return [c for c in table.frame.columns if c not in read]


def describe_unread_columns(table: ExtractedTable, unread: list[str]) -> str:
    """One log line naming an input's unread columns (only names that look like column names)."""
    names = header_summary(unread)
    count = f"{len(unread)} column{'s are' if len(unread) > 1 else ' is'}"
    return (
        f"{table.source_file}: {count} not read and not stored, as no check or table uses them ({names}); "
        "rename any that should be read (see docs/inputs.md)."
    )


def check_required_columns(table: ExtractedTable, study: Study, required: list[str]) -> None:
    """Stop the run with one clear message when a file lacks columns the suite needs."""
    missing = [c for c in required if c not in table.frame.columns]
    if missing:
        raise DatasetError(
            f"{describe_input(table, study)}: missing column(s) {', '.join(missing)}. "
            "Add them to the header row (see docs/inputs.md) and run again."
        )


def validate_table(table: ExtractedTable, study: Study) -> ValidatedTable:
    """Check one extracted table; return the rows fit to load and the quarantined ones."""
    suite = expand_suite(
        load_suite_definition(suite_name(table.dataset)), expected_columns(table.dataset, study.wave)
    )
    check_required_columns(table, study, referenced_columns(suite))
    parameters = suite_parameters(study)
    typed = type_columns(table.frame, suite)
    if table.scope is not None and typed.empty:
        # In a rerun a council may rightly have no rows in a file (no member answered); only a whole
        # file can be empty, and that is checked by the national run.
        return ValidatedTable(
            dataset=table.dataset,
            source_file=table.source_file,
            sha256=table.sha256,
            rows_read=table.rows_read,  # only rows that belong to no council, all quarantined
            frame=typed,
            quarantine=table.rejected,
            location=table.location,
            source_format=table.source_format,
            encoding=table.encoding,
        )
    failed, result = run_suite(typed, suite, parameters, label=table.dataset.replace(":", "-"))
    bad = pd.Series(False, index=typed.index)
    records = [table.rejected]
    for expectation, rows in failed:
        if rows is None:  # a check of the whole file, such as its row count
            raise DatasetError(f"{describe_input(table, study)}: {expectation['meta']['reason']}")
        check_failing_row_count(describe_input(table, study), expectation, len(rows))
        mask = typed[ROW_ID].isin(rows)
        bad |= mask
        records.append(quarantine_records(table, table.frame, mask, expectation))
    return ValidatedTable(
        dataset=table.dataset,
        source_file=table.source_file,
        sha256=table.sha256,
        rows_read=table.rows_read,
        frame=typed.loc[~bad].reset_index(drop=True),
        quarantine=combine_quarantine(records),
        location=table.location,
        source_format=table.source_format,
        encoding=table.encoding,
        gx_results=[result],
    )


def combine_quarantine(records: list[pd.DataFrame]) -> pd.DataFrame:
    """One quarantine table from several, in row order."""
    present = [r for r in records if len(r)]
    combined = pd.concat(present, ignore_index=True) if present else empty_quarantine()
    return combined.sort_values(["source_row", "column"], kind="stable").reset_index(drop=True)


@task(name="validate", task_run_name="validate-{table.dataset}", cache_policy=NONE)
def validate_table_task(table: ExtractedTable, study: Study) -> ValidatedTable:
    """Prefect wrapper: validate one extracted table and log its row accounting."""
    validated = validate_table(table, study)
    logger = get_run_logger()
    if unread := unread_columns(table, study.wave):
        logger.warning(describe_unread_columns(table, unread))
    logger.info(
        "%s: %d rows read, %d loaded, %d quarantined",
        table.source_file,
        validated.rows_read,
        validated.rows_loaded,
        validated.rows_quarantined,
    )
    return validated


def count_responses(tables: list[ValidatedTable]) -> pd.DataFrame | None:
    """Responses fit to load per council x data tool, beside the number invited (None: no invitations)."""
    by_name = {t.dataset: t for t in tables}
    responses = [t.frame[["gss_code", "tool_id"]] for t in tables if t.dataset.startswith("responses:")]
    if "invitations" not in by_name or not responses:
        return None
    counts = pd.concat(responses).value_counts().rename("responses").reset_index()
    invited = by_name["invitations"].frame[["gss_code", "tool_id", "invited"]]
    counts = counts.merge(invited, on=["gss_code", "tool_id"], how="left")
    return counts.astype({"responses": "Int64", "invited": "Int64"})


def set_aside_rows(table: ValidatedTable, mask: pd.Series, reasons: pd.Series, column: str) -> ValidatedTable:
    """Move the rows a mask picks from a table's loadable rows to its quarantine, each with its reason."""
    moved = table.frame.loc[mask]
    records = pd.DataFrame(
        {
            "dataset": table.dataset,
            "source_file": table.source_file,
            "source_row": moved["source_row"],
            "column": column,
            "value": moved[column].astype("str").where(moved[column].notna(), ""),
            "reason": reasons.loc[mask],
        },
        columns=QUARANTINE_COLUMNS,
    )
    table.frame = table.frame.loc[~mask].reset_index(drop=True)
    table.quarantine = combine_quarantine([table.quarantine, records])
    return table


def reconcile_response_counts(tables: list[ValidatedTable], study: Study) -> list[ValidatedTable]:
    """Set aside every response of a council x tool with more responses than invited, or no invitations row.

    All of them, not the surplus: which responses are extra cannot be known (duplicates, a wrong count or
    a misnamed council), and keeping an arbitrary subset would bias the scores and hide the problem.
    """
    counts = count_responses(tables)
    if counts is None:
        return tables
    suite = load_suite_definition(RESPONSE_COUNTS_SUITE)
    counts[COUNTS_ROW_ID] = range(len(counts))
    failed, result = run_suite(counts, suite, suite_parameters(study), row_id=COUNTS_ROW_ID)
    reasons = pd.Series(pd.NA, index=counts.index, dtype="object")
    for expectation, rows in failed:
        if rows is None:
            name = f"expectations/{RESPONSE_COUNTS_SUITE}.json"
            raise SuiteError(f"{name}: {expectation['type']} names no rows; its checks must be row by row")
        mask = counts[COUNTS_ROW_ID].isin(rows) & reasons.isna()
        template = expectation["meta"]["reason"]
        reasons[mask] = [
            template.format(responses=row.responses, invited=row.invited) for row in counts[mask].itertuples()
        ]
    for table in tables:
        if table.dataset == "invitations":
            table.gx_results.append(result)
    failing = counts.assign(reason=reasons).dropna(subset=["reason"])[["gss_code", "tool_id", "reason"]]
    if failing.empty:
        return tables
    for table in tables:
        if table.dataset.startswith("responses:") and len(table.frame):
            joined = table.frame[["gss_code", "tool_id"]].merge(
                failing, how="left", on=["gss_code", "tool_id"]
            )
            reasons_by_row = pd.Series(joined["reason"].to_numpy(), index=table.frame.index)
            set_aside_rows(table, reasons_by_row.notna(), reasons_by_row, "council")
    return tables


@task(name="reconcile-response-counts", cache_policy=NONE)
def reconcile_response_counts_task(tables: list[ValidatedTable], study: Study) -> list[ValidatedTable]:
    """Prefect wrapper: check responses against invitations per council and data tool."""
    before = {t.dataset: t.rows_quarantined for t in tables}
    reconciled = reconcile_response_counts(tables, study)
    for table in reconciled:
        if table.rows_quarantined > before[table.dataset]:
            get_run_logger().warning(
                "%s: %d more rows quarantined (responses not matching the invitations); %d loaded",
                table.source_file,
                table.rows_quarantined - before[table.dataset],
                table.rows_loaded,
            )
    return reconciled


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
                "source_format": t.source_format,
                "encoding": t.encoding,
            }
            for t in tables
        ]
    )
    broken = accounting[accounting["rows_read"] != accounting["rows_loaded"] + accounting["rows_quarantined"]]
    if len(broken):
        raise AccountingError(f"row accounting does not balance:\n{broken.to_string(index=False)}")
    return accounting


def shorten_values(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Quarantine with long values cut for people to read (the row number says where the whole value is)."""
    limit = load_settings().outputs.quarantine_value_chars
    values = quarantine["value"].astype("str")
    long = values.str.len() > limit
    shortened = values.str.slice(0, limit) + "… (" + values.str.len().astype("str") + " characters)"
    return quarantine.assign(value=values.where(~long, shortened))


def build_data_docs(tables: list[ValidatedTable], folder: Path) -> Path | None:
    """Render Great Expectations' Data Docs (HTML) for this run's validation results under folder."""
    results = [result for table in tables for result in table.gx_results]
    if not results:
        return None
    if all(isinstance(result, KeptResult) for result in results):
        return render_data_docs_in_validator(results, folder)
    return render_data_docs(results, folder)


def write_quality_record(tables: list[ValidatedTable], folder: Path) -> pd.DataFrame:
    """Save the quarantine (Parquet and CSV), the row accounting and GX's Data Docs for this run."""
    accounting = account_rows(tables)
    quarantine = combine_quarantine([t.quarantine for t in tables])
    quarantine = quarantine.sort_values(["dataset", "source_row", "column"], kind="stable", ignore_index=True)
    folder.mkdir(parents=True, exist_ok=True)
    quarantine.to_parquet(folder / "quarantine.parquet", index=False)
    write_csv_for_people(shorten_values(quarantine), folder / "quarantine.csv")
    write_csv_for_people(accounting, folder / "accounting.csv")
    build_data_docs(tables, folder)
    return accounting
