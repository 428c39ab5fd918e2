"""Publish: the open-data tables (CSV), with disclosure control applied before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

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
    table["response_rate_pct"] = (100 * table["response_rate"]).round(1)
    columns = ["wave", *NAME_COLUMNS, "recipient_group", "invited", "responses", "response_rate_pct"]
    return table[columns]


def withhold_small_bases(table: pd.DataFrame, statistics: list[str]) -> pd.DataFrame:
    """Blank statistics resting on too few valid answers and mark them with the status marker."""
    rules = load_settings().disclosure
    withheld = table["n_valid"] < rules["min_valid_answers"]
    table = table.copy()
    for column in statistics:
        table[column] = table[column].astype("Float64").mask(withheld)
    table["status"] = withheld.map({True: rules["withheld_status"], False: ""})
    return table


def open_maturity_levels(scores: Scores) -> pd.DataFrame:
    """Council maturity levels for all respondents (groups weighted equally), disclosure-controlled.

    Group-level rows are not published yet: with one group below the threshold, the other group and
    the combined figure would let it be derived, and secondary suppression belongs with them.
    """
    combined = scores.maturity_levels[scores.maturity_levels["recipient_group"] == ALL_GROUPS]
    table = combined.merge(council_names(), on="gss_code", how="left")
    table["wave"] = scores.wave
    for level in (1, 2, 3):
        table[f"share_level_{level}_pct"] = (100 * table[f"share_level_{level}"]).round(1)
    for column in ("mean_level", "ci_lower", "ci_upper"):
        table[column] = table[column].round(2)
    table = withhold_small_bases(table, ANSWER_STATISTICS)
    table["level"] = table["level"].astype("Int8")
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
    return table[columns].sort_values(["gss_code", "characteristic"], ignore_index=True)


def to_csv_bytes(table: pd.DataFrame) -> bytes:
    """UTF-8 CSV with Unix line ends: the same bytes for the same data."""
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")


def publish_open_data(scores: Scores, version: Path) -> list[Path]:
    """Write the wave's open-data release into the version, replacing the previous release whole."""
    files = {
        "response_rates.csv": to_csv_bytes(open_response_rates(scores)),
        "maturity_levels.csv": to_csv_bytes(open_maturity_levels(scores)),
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
