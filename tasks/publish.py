"""Publish: the open-data tables (CSV), with disclosure control applied before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from maturity.disclosure import Relation, apply_disclosure_control, relations_within
from maturity.settings import ALL_GROUPS, WALES_GSS_CODE, load_settings
from tasks.score import Scores
from warehouse.store import replace_file

WALES_NAMES = ("Wales", "Cymru")
NAME_COLUMNS = ["gss_code", "council_name_en", "council_name_cy"]
SHARE_COLUMNS = ["share_level_1_pct", "share_level_2_pct", "share_level_3_pct"]
ANSWER_STATISTICS = [*SHARE_COLUMNS, "mean_level", "level", "ci_lower", "ci_upper"]


def council_names() -> pd.DataFrame:
    """GSS code with English and Welsh names for every council and for Wales."""
    rows = [(c.gss_code, c.name_en, c.name_cy) for c in load_settings().councils]
    rows.append((WALES_GSS_CODE, *WALES_NAMES))
    return pd.DataFrame(rows, columns=NAME_COLUMNS)


def open_response_rates(scores: Scores) -> pd.DataFrame:
    """Response counts and rates: not answers, so published in full."""
    table = scores.response_rates.merge(council_names(), on="gss_code", how="left")
    table["wave"] = scores.wave
    table["response_rate_pct"] = as_percent(table["response_rate"])
    columns = ["wave", *NAME_COLUMNS, "recipient_group", "invited", "responses", "response_rate_pct"]
    return table[columns]


def control_disclosure(table: pd.DataFrame, statistics: list[str], relations: list[Relation]) -> pd.DataFrame:
    """Apply the one disclosure rule (config/method.yaml disclosure) to a table about to be published."""
    rules = load_settings().disclosure
    return apply_disclosure_control(
        table, statistics, relations, rules["min_valid_answers"], rules["withheld_status"]
    )


def group_relations(table: pd.DataFrame, item: str) -> list[Relation]:
    """Each council's all-respondents figure for an item is computed from its two groups' figures."""
    return relations_within(table, ["gss_code", item], "recipient_group", ALL_GROUPS)


def council_relations(table: pd.DataFrame, item: str) -> list[Relation]:
    """A Wales figure pools the councils' figures for the same item and group."""
    return relations_within(table, [item, "recipient_group"], "gss_code", WALES_GSS_CODE)


def as_percent(share: pd.Series) -> pd.Series:
    """A share (0-1) as a percentage rounded for publication."""
    return (100 * share).round(load_settings().publication["percent_decimals"])


def open_maturity_levels(scores: Scores) -> pd.DataFrame:
    """Council maturity levels for officers, elected members and all respondents, disclosure-controlled."""
    table = scores.maturity_levels.merge(council_names(), on="gss_code", how="left")
    table = table.sort_values(["gss_code", "characteristic", "recipient_group"], ignore_index=True)
    table["wave"] = scores.wave
    for level in (1, 2, 3):
        table[f"share_level_{level}_pct"] = as_percent(table[f"share_level_{level}"])
    for column in ("mean_level", "ci_lower", "ci_upper"):
        table[column] = table[column].round(load_settings().publication["level_decimals"])
    table = control_disclosure(table, ANSWER_STATISTICS, group_relations(table, "characteristic"))
    columns = [
        "wave",
        *NAME_COLUMNS,
        "characteristic",
        "recipient_group",
        "n_valid",
        *ANSWER_STATISTICS,
        "low_base",
        "status",
    ]
    return table[columns]


def open_statement_results(scores: Scores) -> pd.DataFrame:
    """% agree per council, statement and group, and for Wales (all pooled), disclosure-controlled."""
    results = scores.statement_results
    published = (results["gss_code"] != WALES_GSS_CODE) | (results["recipient_group"] == ALL_GROUPS)
    table = results[published].merge(council_names(), on="gss_code", how="left")
    table = table.sort_values(["gss_code", "statement_id", "recipient_group"], ignore_index=True)
    table["wave"] = scores.wave
    table["pct_agree"] = as_percent(table["share_agree"])
    table["ci_lower"] = as_percent(table["ci_lower"])
    table["ci_upper"] = as_percent(table["ci_upper"])
    relations = group_relations(table, "statement_id") + council_relations(table, "statement_id")
    table = control_disclosure(table, ["pct_agree", "ci_lower", "ci_upper"], relations)
    columns = [
        "wave",
        *NAME_COLUMNS,
        "statement_id",
        "theme",
        "recipient_group",
        "n_valid",
        "pct_agree",
        "ci_lower",
        "ci_upper",
        "status",
    ]
    return table[columns]


def open_public_survey_results(scores: Scores) -> pd.DataFrame:
    """Weighted % yes for Wales per question, with interval, effective sample size and design effect."""
    table = scores.public_survey_results.merge(council_names(), on="gss_code", how="left")
    table = table.sort_values("question_id", ignore_index=True)
    table["wave"] = scores.wave
    table["pct_yes"] = as_percent(table["share_yes"])
    table["ci_lower"] = as_percent(table["ci_lower"])
    table["ci_upper"] = as_percent(table["ci_upper"])
    decimals = load_settings().publication["level_decimals"]
    table["effective_size"] = table["effective_size"].round(decimals)
    table["design_effect"] = table["design_effect"].round(decimals)
    table = control_disclosure(table, ["pct_yes", "ci_lower", "ci_upper"], relations=[])
    columns = [
        "wave",
        *NAME_COLUMNS,
        "question_id",
        "n_valid",
        "pct_yes",
        "ci_lower",
        "ci_upper",
        "effective_size",
        "design_effect",
        "status",
    ]
    return table[columns]


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV with Unix line ends: the same bytes for the same data."""
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def publish_open_data(scores: Scores, version: Path) -> list[Path]:
    """Write the wave's open-data release into the version, replacing the previous release whole."""
    files = {
        "response_rates.csv": to_csv_bytes(open_response_rates(scores)),
        "maturity_levels.csv": to_csv_bytes(open_maturity_levels(scores)),
        "statement_results.csv": to_csv_bytes(open_statement_results(scores)),
        "public_survey_results.csv": to_csv_bytes(open_public_survey_results(scores)),
    }
    target = version / "open-data" / scores.wave
    shutil.rmtree(target, ignore_errors=True)
    for name, content in files.items():
        replace_file(target / name, content)
    return [target / name for name in files]


@task(name="publish-open-data", cache_policy=NONE)
def publish_open_data_task(scores: Scores, version: Path) -> list[Path]:
    """Prefect wrapper: publish the open-data CSVs."""
    return publish_open_data(scores, version)
