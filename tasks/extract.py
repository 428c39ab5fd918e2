"""Extract: read a study folder's files into contract columns with lineage, safe to store."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from maturity.councils import UnknownCouncilError, council_resolver
from maturity.demo import DEMO_PSEUDONYM_KEY
from maturity.restricted import is_identity_column
from maturity.settings import load_settings
from tasks.contracts import (
    QUARANTINE_COLUMNS,
    DatasetError,
    ExtractedTable,
    Study,
    empty_quarantine,
)
from tasks.retries import retry_if_source_unavailable, retry_options
from tasks.sources import SourceTable, header_summary, read_input, rejected_records

EMPTY_COUNCIL_REASON = (
    "Council is empty. Enter the council the respondent answered for (a GSS code such as W06000004, "
    "or the English or Welsh name)."
)


def find_identity_columns(columns: list[str]) -> list[str]:
    """Columns that identify a respondent and must never be stored."""
    return [c for c in columns if is_identity_column(c)]


def unknown_council_reason(error: UnknownCouncilError) -> str:
    """Why a row's council was not recognised, without the value itself: the reason is recorded in the
    registry and Prefect's artifacts, while the value (which may be anything, a name or an email) stays
    in the restricted quarantine files."""
    hint = f' The closest known council is "{error.closest}".' if error.closest else ""
    return (
        f"Council is not a known council (the value is in the quarantine file).{hint} Use a GSS code "
        "(e.g. W06000004), the English or Welsh name, or add the spelling to aliases in config/councils.csv."
    )


def pseudonymise(values: pd.Series, key: str, namespace: str) -> pd.Series:
    """Replace ids with a keyed HMAC-SHA256 pseudonym: stable across runs, not reversible."""
    secret = key.encode("utf-8")
    return values.map(
        lambda v: hmac.new(secret, f"{namespace}:{v}".encode(), hashlib.sha256).hexdigest()[:32],
        na_action="ignore",  # an empty id stays empty, for validation to set aside
    )


def pseudonym_key(study: Study) -> str:
    """The pseudonymisation key from the environment; only a demo study may fall back to a fixed key."""
    rules = load_settings().responses
    env = rules.pseudonym_key_env
    key = os.environ.get(env, "")
    if key and not study.demo and (len(key) < rules.pseudonym_key_min_chars or key == DEMO_PSEUDONYM_KEY):
        raise DatasetError(
            f"{env} is too weak for a real study: it must be a random secret of at least "
            f"{rules.pseudonym_key_min_chars} characters, not the public demo key (a guessable key makes "
            "the pseudonyms reversible). Set a new one and keep it the same every run."
        )
    if key:
        return key
    if study.demo:
        return DEMO_PSEUDONYM_KEY
    raise DatasetError(
        f"{env} is not set. Response ids are replaced by a keyed pseudonym: set {env} to a long "
        "random secret (the same one every run, kept out of the repository) and run again."
    )


def resolve_councils(
    frame: pd.DataFrame, dataset: str, source_file: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add gss_code from the council column; rows naming an unknown council are rejected."""
    resolver = council_resolver()
    codes: dict[str, str | None] = {}
    reasons: dict[str, str] = {}
    for value in frame["council"].dropna().unique():
        try:
            codes[value] = resolver.resolve(value)
        except UnknownCouncilError as error:
            codes[value], reasons[value] = None, unknown_council_reason(error)
    gss = frame["council"].map(codes)
    unknown = gss.isna()
    rejected = pd.DataFrame(
        {
            "dataset": dataset,
            "source_file": source_file,
            "source_row": frame.loc[unknown, "source_row"],
            "column": "council",
            "value": frame.loc[unknown, "council"].fillna(""),
            "reason": [reasons.get(v, EMPTY_COUNCIL_REASON) for v in frame.loc[unknown, "council"]],
        },
        columns=QUARANTINE_COLUMNS,
    )
    kept = frame.loc[~unknown].assign(gss_code=gss[~unknown].astype("str"))
    return kept, rejected if len(rejected) else empty_quarantine()


def _check_council_column(source: SourceTable) -> None:
    if "council" not in source.frame.columns:
        raise DatasetError(
            f"{source.location}: has no 'council' column (columns found: "
            f"{header_summary([c for c in source.frame.columns if c != 'source_row'])}). "
            "Check the header row (see docs/inputs.md)."
        )


def extract_file(study: Study, dataset: str, relative: str | None = None) -> ExtractedTable:
    """Read one dataset (named file, the file its name selects, or SQL), drop identity, add lineage."""
    source = read_input(study, dataset, relative)
    _check_council_column(source)
    frame = source.frame.drop(columns=find_identity_columns(list(source.frame.columns)))
    frame["source_file"] = source.source_file
    frame["source_sha256"] = source.sha256
    kept, unknown = resolve_councils(frame, dataset, source.source_file)
    rejected = [r for r in (rejected_records(source, dataset), unknown) if len(r)]
    return ExtractedTable(
        dataset=dataset,
        source_file=source.source_file,
        sha256=source.sha256,
        rows_read=source.rows_read,
        frame=kept,
        rejected=pd.concat(rejected, ignore_index=True) if rejected else empty_quarantine(),
        location=source.location,
        source_format=source.source_format,
        encoding=source.encoding,
    )


def _check_answer_columns(table: ExtractedTable, tool_id: str, wave: str) -> None:
    """A lvl_/st_ column this tool does not ask in this wave would be dropped unseen: stop instead."""
    settings = load_settings()
    prefixes = (settings.level_column(""), settings.statement_column(""))
    expected = set(settings.tool_answer_columns(tool_id, wave))
    unknown = [c for c in table.frame.columns if c.startswith(prefixes) and c not in expected]
    if unknown:
        raise DatasetError(
            f"{table.location}: column {header_summary(unknown)} is not a question of the {tool_id} tool "
            f"in wave {wave} (characteristics in config/framework.yaml, the statements each tool asks in "
            "config/tools.yaml, and the waves each statement was asked in in config/framework.yaml), so its "
            "answers would be lost. Rename or remove it, or add it to the config, and run again."
        )


def extract_responses(study: Study, tool_id: str) -> ExtractedTable:
    """Extract one data tool's responses, pseudonymising response ids."""
    table = extract_file(study, f"responses:{tool_id}")
    _check_answer_columns(table, tool_id, study.wave)
    if "response_id" in table.frame.columns:
        key = pseudonym_key(study)
        table.frame["response_id"] = pseudonymise(table.frame["response_id"], key, tool_id)
    table.frame["tool_id"] = tool_id
    table.frame["recipient_group"] = load_settings().tool_by_id[tool_id].recipient_group
    return table


def extract_public_survey(study: Study) -> ExtractedTable:
    """Extract the public survey, pseudonymising respondent ids."""
    table = extract_file(study, "public_survey")
    if "respondent_id" in table.frame.columns:
        key = pseudonym_key(study)
        table.frame["respondent_id"] = pseudonymise(table.frame["respondent_id"], key, "public_survey")
    return table


def log_extracted(table: ExtractedTable) -> ExtractedTable:
    """Say in the run log how an input was read, so an analyst can check its format and encoding."""
    encoding = f", {table.encoding}" if table.encoding else ""
    get_run_logger().info(
        "%s: read as %s%s, %d rows", table.source_file, table.source_format, encoding, table.rows_read
    )
    return table


def extract_dataset(study: Study, dataset: str) -> ExtractedTable:
    """Extract any dataset by name: invitations, responses:<tool_id>, public_survey or population."""
    kind, _, tool_id = dataset.partition(":")
    if kind == "responses":
        return extract_responses(study, tool_id)
    if kind == "public_survey":
        return extract_public_survey(study)
    return extract_file(study, dataset)


def study_datasets() -> list[str]:
    """Every input of a study, in the order a run extracts them."""
    tools = [f"responses:{tool.id}" for tool in load_settings().tools]
    return ["invitations", *tools, "public_survey", "population"]


@task(
    name="extract",
    task_run_name="extract-{dataset}",
    cache_policy=NONE,
    retry_condition_fn=retry_if_source_unavailable,
    **retry_options(),
)
def extract_dataset_task(study: Study, dataset: str) -> ExtractedTable:
    """Prefect wrapper: extract any dataset by name (an unreachable SQL source is tried again)."""
    return log_extracted(extract_dataset(study, dataset))


def restrict_to_council(table: ExtractedTable, gss_code: str) -> ExtractedTable:
    """Keep only one council's rows, for a rerun: other councils' rows are out of scope, not loaded.

    Rows already rejected (an unknown council, a malformed row) belong to no council, so no rerun would
    ever account for them: they stay quarantined in this one, and are counted among its rows read.
    """
    rows = table.frame[table.frame["gss_code"] == gss_code].reset_index(drop=True)
    unplaced = int(table.rejected["source_row"].nunique()) if len(table.rejected) else 0
    return dataclasses.replace(table, rows_read=len(rows) + unplaced, frame=rows, scope=gss_code)


@task(name="restrict-to-council", task_run_name="restrict-{table.dataset}-{gss_code}", cache_policy=NONE)
def restrict_to_council_task(table: ExtractedTable, gss_code: str) -> ExtractedTable:
    """Prefect wrapper: keep one council's rows."""
    return restrict_to_council(table, gss_code)
