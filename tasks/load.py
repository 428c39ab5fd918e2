"""Load: reshape validated inputs into warehouse tables and write them for the wave."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from maturity.settings import load_settings, method_fingerprint
from tasks.contracts import LINEAGE_COLUMNS, ValidatedTable
from warehouse.store import read_table, write_table

LEVEL_PREFIX = "lvl_"
# Tables holding rows of several inputs per council: a rerun that reloads some inputs keeps the others'.
CARRIED_TABLES = ("load_manifest", "respondents", "answers", "comments")
STATEMENT_PREFIX = "st_"


def _responses(tables: list[ValidatedTable]) -> pd.DataFrame:
    frames = [t.frame for t in tables if t.dataset.startswith("responses:")]
    return pd.concat(frames, ignore_index=True)


def build_respondents(tables: list[ValidatedTable]) -> pd.DataFrame:
    """One row per response with its pseudonymised id, tool, role and lineage."""
    columns = ["response_id", "gss_code", "tool_id", "recipient_group", "submitted_at", "role"]
    return _responses(tables)[columns + LINEAGE_COLUMNS]


def build_answers(tables: list[ValidatedTable]) -> pd.DataFrame:
    """Long form: one row per answer to a level question or statement."""
    keys = ["response_id", "gss_code", "tool_id", "recipient_group"]
    dont_know = load_settings().responses.dont_know
    parts = []
    for table in tables:
        if not table.dataset.startswith("responses:"):
            continue
        items = [c for c in table.frame.columns if c.startswith((LEVEL_PREFIX, STATEMENT_PREFIX))]
        long = table.frame.melt(id_vars=keys, value_vars=items, var_name="column", value_name="answer")
        parts.append(long)
    answers = pd.concat(parts, ignore_index=True)
    # Work on the few distinct column names and answer codes, not on every one of millions of rows.
    column = answers.pop("column").astype("category")
    answers["item_type"] = column.map(lambda c: "level" if c.startswith(LEVEL_PREFIX) else "statement")
    answers["item_id"] = column.map(lambda c: c.split("_", 1)[1])
    codes = answers["answer"].astype("category")
    values = {code: int(code) for code in codes.cat.categories if code != dont_know}
    answers["answer_value"] = codes.map(values).astype("float").astype("Int8")
    for name in ("item_type", "item_id"):
        answers[name] = answers[name].astype("str")
    return answers


def build_comments(tables: list[ValidatedTable]) -> pd.DataFrame:
    """The free-text comments that were given, kept apart from answers because they are restricted."""
    responses = _responses(tables)
    given = responses[responses["comments"].notna()]
    return given[["response_id", "gss_code", "tool_id", "comments"]].rename(columns={"comments": "comment"})


def build_public_survey(table: ValidatedTable) -> pd.DataFrame:
    """Public survey in long form: one row per respondent and question."""
    questions = load_settings().public_survey.question_ids
    keys = ["respondent_id", "gss_code", "age_band", "sex"]
    return table.frame.melt(id_vars=keys, value_vars=questions, var_name="question_id", value_name="answer")


def build_load_manifest(tables: list[ValidatedTable]) -> pd.DataFrame:
    """Per council and input: the file and sha256 its rows came from, the method, and rows loaded."""
    method = method_fingerprint()
    rows = [
        (gss_code, table.dataset, table.source_file, table.sha256, method, count)
        for table in tables
        for gss_code, count in table.frame["gss_code"].value_counts().items()
    ]
    columns = ["gss_code", "dataset", "source_file", "source_sha256", "method_sha256", "rows_loaded"]
    return pd.DataFrame(rows, columns=columns)


def read_kept_rows(
    warehouse: Path, name: str, wave: str, councils: list[str], keep: tuple[str, ...]
) -> pd.DataFrame:
    """A table's stored rows that came from inputs kept as they are (unchanged since loaded)."""
    stored = read_table(warehouse, name, wave, councils)
    if name == "load_manifest":
        return stored[stored["dataset"].isin(keep)]
    tools = [dataset.partition(":")[2] for dataset in keep if dataset.startswith("responses:")]
    return stored[stored["tool_id"].isin(tools)]


def build_outputs(tables: list[ValidatedTable]) -> dict[str, pd.DataFrame]:
    """The warehouse tables the given validated inputs make (a rerun may give only some inputs)."""
    by_name = {t.dataset: t for t in tables}
    outputs = {"load_manifest": build_load_manifest(tables)}
    if "invitations" in by_name:
        outputs["invitations"] = by_name["invitations"].frame
    if any(t.dataset.startswith("responses:") for t in tables):
        outputs |= {
            "respondents": build_respondents(tables),
            "answers": build_answers(tables),
            "comments": build_comments(tables),
        }
    if "public_survey" in by_name:
        outputs["public_survey"] = build_public_survey(by_name["public_survey"])
    if "population" in by_name:
        outputs["population"] = by_name["population"].frame
    return outputs


def load_warehouse(
    tables: list[ValidatedTable],
    warehouse: Path,
    wave: str,
    councils: list[str] | None = None,
    keep: tuple[str, ...] = (),
) -> dict[str, int]:
    """Write every input-derived table for the wave (or only the councils named); rows written per table.

    keep: inputs left out of tables because they are unchanged since the councils' rows were loaded
    (a council rerun); their stored rows are carried into the rewritten partitions.
    """
    outputs = build_outputs(tables)
    if keep and councils is not None:
        for name in [n for n in outputs if n in CARRIED_TABLES]:
            kept = read_kept_rows(warehouse, name, wave, councils, keep)
            outputs[name] = pd.concat([outputs[name], kept], ignore_index=True)
    for name, frame in outputs.items():
        write_table(warehouse, name, wave, frame, councils)
    return {name: len(frame) for name, frame in outputs.items()}


@task(name="load-warehouse", cache_policy=NONE)
def load_warehouse_task(
    tables: list[ValidatedTable],
    warehouse: Path,
    wave: str,
    councils: list[str] | None = None,
    keep: tuple[str, ...] = (),
) -> dict[str, int]:
    """Prefect wrapper: write validated inputs to the warehouse."""
    return load_warehouse(tables, warehouse, wave, councils, keep)
