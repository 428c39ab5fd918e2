"""Extract: read a study folder's files into contract columns with lineage, safe to store."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from maturity.councils import UnknownCouncilError, council_resolver
from maturity.demo import DEMO_PSEUDONYM_KEY
from maturity.settings import load_settings
from tasks.contracts import (
    QUARANTINE_COLUMNS,
    DatasetError,
    ExtractedTable,
    Study,
    empty_quarantine,
)

# The first data row of a CSV is row 2 of the file as a spreadsheet shows it (row 1 is the header).
FIRST_DATA_ROW = 2


def file_sha256(path: Path) -> str:
    """Checksum of a file's bytes, recorded with every row for lineage."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_csv_as_text(path: Path) -> pd.DataFrame:
    """Read a CSV with every value as trimmed text, so nothing is coerced before validation."""
    if not path.is_file():
        raise DatasetError(f"{path}: not found. Add the file or check --inputs points at the study folder.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise DatasetError(
            f"{path}: could not be read as a UTF-8 CSV ({error}). Re-export it as CSV (UTF-8)."
        ) from error
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.apply(lambda column: column.str.strip())
    return frame.mask(frame == "")


def find_identity_columns(columns: list[str]) -> list[str]:
    """Columns that identify a respondent and must never be stored."""
    rules = load_settings().responses
    patterns = [
        re.compile(rf"(^|[^a-z]){p}($|[^a-z])", re.IGNORECASE) for p in rules["identity_column_patterns"]
    ]
    return [c for c in columns if c in rules["identity_columns"] or any(p.search(c) for p in patterns)]


def pseudonymise(values: pd.Series, key: str, namespace: str) -> pd.Series:
    """Replace ids with a keyed HMAC-SHA256 pseudonym: stable across runs, not reversible."""
    secret = key.encode("utf-8")
    return values.map(
        lambda v: hmac.new(secret, f"{namespace}:{v}".encode(), hashlib.sha256).hexdigest()[:32]
    )


def pseudonym_key(study: Study) -> str:
    """The pseudonymisation key from the environment; only a demo study may fall back to a fixed key."""
    env = load_settings().responses["pseudonym_key_env"]
    key = os.environ.get(env, "")
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
    for value in frame["council"].unique():
        try:
            codes[value] = resolver.resolve(value)
        except UnknownCouncilError as error:
            codes[value], reasons[value] = None, str(error)
    gss = frame["council"].map(codes)
    unknown = gss.isna()
    rejected = pd.DataFrame(
        {
            "dataset": dataset,
            "source_file": source_file,
            "source_row": frame.loc[unknown, "source_row"],
            "column": "council",
            "value": frame.loc[unknown, "council"],
            "reason": frame.loc[unknown, "council"].map(reasons),
        },
        columns=QUARANTINE_COLUMNS,
    )
    kept = frame.loc[~unknown].assign(gss_code=gss[~unknown].astype("str"))
    return kept, rejected if len(rejected) else empty_quarantine()


def _read_with_lineage(study: Study, relative: str) -> tuple[pd.DataFrame, str]:
    path = study.root / relative
    frame = read_csv_as_text(path)
    if "council" not in frame.columns:
        raise DatasetError(
            f"{path}: has no 'council' column (columns found: {', '.join(frame.columns) or 'none'}). "
            "Check the header row (see README, 'The study folder')."
        )
    sha = file_sha256(path)
    frame = frame.drop(columns=find_identity_columns(list(frame.columns)))
    frame["source_file"] = relative
    frame["source_row"] = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame), dtype="int64")
    frame["source_sha256"] = sha
    return frame, sha


def extract_file(study: Study, dataset: str, relative: str) -> ExtractedTable:
    """Read one study file, drop identity columns, add lineage and resolve councils."""
    frame, sha = _read_with_lineage(study, relative)
    rows_read = len(frame)
    kept, rejected = resolve_councils(frame, dataset, relative)
    return ExtractedTable(dataset, relative, sha, rows_read, kept, rejected)


def extract_responses(study: Study, tool_id: str) -> ExtractedTable:
    """Extract one data tool's responses, pseudonymising response ids."""
    table = extract_file(study, f"responses:{tool_id}", f"responses/{tool_id}.csv")
    if "response_id" in table.frame.columns:
        key = pseudonym_key(study)
        table.frame["response_id"] = pseudonymise(table.frame["response_id"], key, tool_id)
    table.frame["tool_id"] = tool_id
    table.frame["recipient_group"] = load_settings().tool_by_id[tool_id].recipient_group
    return table


def extract_public_survey(study: Study) -> ExtractedTable:
    """Extract the public survey, pseudonymising respondent ids."""
    table = extract_file(study, "public_survey", "public_survey.csv")
    if "respondent_id" in table.frame.columns:
        key = pseudonym_key(study)
        table.frame["respondent_id"] = pseudonymise(table.frame["respondent_id"], key, "public_survey")
    return table


@task(name="extract-invitations", cache_policy=NONE)
def extract_invitations_task(study: Study) -> ExtractedTable:
    """Prefect wrapper: extract invitations.csv."""
    return extract_file(study, "invitations", "invitations.csv")


@task(name="extract-responses", task_run_name="extract-{tool_id}", cache_policy=NONE)
def extract_responses_task(study: Study, tool_id: str) -> ExtractedTable:
    """Prefect wrapper: extract one data tool's responses."""
    return extract_responses(study, tool_id)


@task(name="extract-public-survey", cache_policy=NONE)
def extract_public_survey_task(study: Study) -> ExtractedTable:
    """Prefect wrapper: extract public_survey.csv."""
    return extract_public_survey(study)


@task(name="extract-population", cache_policy=NONE)
def extract_population_task(study: Study) -> ExtractedTable:
    """Prefect wrapper: extract population.csv."""
    return extract_file(study, "population", "population.csv")


def restrict_to_council(table: ExtractedTable, gss_code: str) -> ExtractedTable:
    """Keep only one council's rows, for a rerun: other councils' rows are out of scope, not loaded.

    Rows whose council could not be resolved belong to no council, so a rerun leaves them out too.
    """
    rows = table.frame[table.frame["gss_code"] == gss_code].reset_index(drop=True)
    return ExtractedTable(table.dataset, table.source_file, table.sha256, len(rows), rows, scope=gss_code)


@task(name="restrict-to-council", task_run_name="restrict-{table.dataset}-{gss_code}", cache_policy=NONE)
def restrict_to_council_task(table: ExtractedTable, gss_code: str) -> ExtractedTable:
    """Prefect wrapper: keep one council's rows."""
    return restrict_to_council(table, gss_code)
