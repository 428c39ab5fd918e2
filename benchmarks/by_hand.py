"""By hand: what an analyst computes from a study folder with pandas alone, the yardstick for a cold run.

`python benchmarks/by_hand.py STUDY_DIR OUT_DIR` reads invitations.csv and responses/*.csv and writes
OUT_DIR/response_rates.csv (invited, responses and rate per council x recipient group) and
OUT_DIR/maturity_levels.csv (answers at each level, don't know and the mean level per council x
characteristic x recipient group, and for all respondents with the groups weighted equally, as the
method does). It imports only pandas and yaml, so its start-up is what a plain script's is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
LEVELS = ("1", "2", "3")
LEVEL_PREFIX = "lvl_"
ALL_GROUPS = "all"
# The council spellings an export may use, each a column of config/councils.csv (aliases "|"-separated).
NAME_COLUMNS = ("gss_code", "name_en", "name_cy", "official_name_en", "official_name_cy")
RATES_FILE = "response_rates.csv"
LEVELS_FILE = "maturity_levels.csv"


def read_dont_know() -> str:
    """The answer that means don't know (config/method.yaml), left out of a mean level's base."""
    method = yaml.safe_load((CONFIG_DIR / "method.yaml").read_text(encoding="utf-8"))
    return str(method["responses"]["dont_know"])


def read_council_codes() -> dict[str, str]:
    """Every spelling of a council in config/councils.csv, case-folded, to its GSS code."""
    councils = pd.read_csv(CONFIG_DIR / "councils.csv", dtype=str, keep_default_na=False)
    codes = {}
    for row in councils.itertuples():
        spellings = [getattr(row, column) for column in NAME_COLUMNS] + row.aliases.split("|")
        codes.update({name.strip().casefold(): row.gss_code for name in spellings if name.strip()})
    return codes


def read_responses(study: Path, codes: dict[str, str]) -> pd.DataFrame:
    """Every tool's responses in one frame, with the council's GSS code and the file's tool id."""
    frames = [
        pd.read_csv(path, dtype=str, keep_default_na=False).assign(tool_id=path.stem)
        for path in sorted((study / "responses").glob("*.csv"))
    ]
    responses = pd.concat(frames, ignore_index=True)
    return responses.assign(gss_code=responses["council"].str.strip().str.casefold().map(codes))


def compute_response_rates(invitations: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """Invited, responses and response rate per council x recipient group."""
    invited = invitations.groupby(["gss_code", "recipient_group"])["invited"].sum()
    answered = responses.groupby(["gss_code", "recipient_group"]).size()
    rates = pd.DataFrame({"invited": invited, "responses": answered}).fillna(0).astype("int64")
    rates["response_rate"] = rates["responses"] / rates["invited"]
    return rates.reset_index()


def count_levels(responses: pd.DataFrame, dont_know: str) -> pd.DataFrame:
    """Answers at each level and don't know, and the mean level, per council x characteristic x group."""
    level_columns = [column for column in responses.columns if column.startswith(LEVEL_PREFIX)]
    answers = responses.melt(
        id_vars=["gss_code", "recipient_group"], value_vars=level_columns, var_name="characteristic"
    )
    answers["characteristic"] = answers["characteristic"].str.removeprefix(LEVEL_PREFIX)
    answers = answers[answers["value"].isin([*LEVELS, dont_know])]
    counts = pd.crosstab(
        [answers["gss_code"], answers["characteristic"], answers["recipient_group"]], answers["value"]
    ).reindex(columns=[*LEVELS, dont_know], fill_value=0)
    counts.columns = [*(f"n_level_{level}" for level in LEVELS), "n_dont_know"]
    valid = counts[[f"n_level_{level}" for level in LEVELS]]
    counts["n_valid"] = valid.sum(axis=1)
    weighted = sum(valid[f"n_level_{level}"] * int(level) for level in LEVELS)
    counts["mean_level"] = weighted / counts["n_valid"].where(counts["n_valid"] > 0)
    return counts.reset_index()


def add_all_respondents(levels: pd.DataFrame) -> pd.DataFrame:
    """Add each council x characteristic's row for all respondents: counts summed, group means averaged."""
    cell = ["gss_code", "characteristic"]
    totals = levels.groupby(cell).sum(numeric_only=True).drop(columns="mean_level")
    totals["mean_level"] = levels.groupby(cell)["mean_level"].mean()
    combined = totals.reset_index().assign(recipient_group=ALL_GROUPS)
    return pd.concat([levels, combined], ignore_index=True).sort_values([*cell, "recipient_group"])


def compute_by_hand(study: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The study's response rates and maturity level counts, from its CSV files."""
    codes = read_council_codes()
    invitations = pd.read_csv(study / "invitations.csv", dtype={"invited": "int64"})
    invitations["gss_code"] = invitations["council"].str.strip().str.casefold().map(codes)
    group_of_tool = invitations.drop_duplicates("tool_id").set_index("tool_id")["recipient_group"]
    responses = read_responses(study, codes)
    responses["recipient_group"] = responses["tool_id"].map(group_of_tool)
    rates = compute_response_rates(invitations, responses)
    return rates, add_all_respondents(count_levels(responses, read_dont_know()))


def main(study: Path, out: Path) -> None:
    """Write the two tables to OUT_DIR."""
    rates, levels = compute_by_hand(study)
    out.mkdir(parents=True, exist_ok=True)
    rates.to_csv(out / RATES_FILE, index=False)
    levels.to_csv(out / LEVELS_FILE, index=False)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python benchmarks/by_hand.py STUDY_DIR OUT_DIR")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
