"""The change since the earlier wave: its estimates, intervals and what the release may show of it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pytest

from maturity.comparability import WaveComparison
from maturity.settings import ALL_GROUPS, WALES_GSS_CODE, load_settings
from tasks.change_report import council_change
from tasks.publish import open_answer_tables, open_maturity_change, open_statement_change
from tasks.score import LEVEL_COUNTS, compute_wales_levels, score_level_counts
from tasks.wave_change import compute_maturity_change, compute_statement_change, draw_wave_cells

DENBIGHSHIRE, CARDIFF = "W06000004", "W06000015"


@dataclass(frozen=True)
class Declared:
    """A comparison as config/comparability.yaml declares one: every item continues itself."""

    earlier: str = "2018"
    later: str = "2021"
    characteristics: dict[str, str] = field(
        default_factory=lambda: {c.id: c.id for c in load_settings().characteristics}
    )
    statements: dict[str, str] = field(
        default_factory=lambda: {s.id: s.id for s in load_settings().statements}
    )


def rescore(levels: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Maturity rows for new level counts (the groups' rows of `levels`), scored as a wave's would be."""
    groups = levels[(levels["recipient_group"] != ALL_GROUPS) & (levels["gss_code"] != WALES_GSS_CODE)]
    counts = groups[["gss_code", "characteristic", "recipient_group", *LEVEL_COUNTS]]
    return score_level_counts(counts, wave).levels


def improved(levels: pd.DataFrame, gss_code: str, characteristic: str) -> pd.DataFrame:
    """The same answers, except that this council's officers moved every level-1 answer up to level 3."""
    table = levels.copy()
    mine = (
        (table["gss_code"] == gss_code)
        & (table["characteristic"] == characteristic)
        & (table["recipient_group"] == "officers")
    )
    table.loc[mine, "n_level_3"] += table.loc[mine, "n_level_1"] + table.loc[mine, "n_level_2"]
    table.loc[mine, ["n_level_1", "n_level_2"]] = 0
    return table


@pytest.fixture(scope="module")
def earlier_levels(scored_demo) -> pd.DataFrame:
    return rescore(scored_demo.scores.maturity_levels, "2018")


def test_the_same_answers_in_both_waves_show_no_change_and_nothing_clear(earlier_levels) -> None:
    later = rescore(earlier_levels, "2021")
    change = compute_maturity_change(earlier_levels, later, Declared())
    assert len(change) == len(later)
    assert np.allclose(change["change"].dropna(), 0)
    assert not change["change_is_clear"].any()
    shown = change.dropna(subset=["change_ci_lower"])
    assert ((shown["change_ci_lower"] < 0) & (shown["change_ci_upper"] > 0)).all()


def test_a_council_that_moved_its_answers_up_shows_a_clear_rise(earlier_levels) -> None:
    later = rescore(improved(earlier_levels, CARDIFF, "data_analytics"), "2021")
    change = compute_maturity_change(earlier_levels, later, Declared()).set_index(
        ["gss_code", "characteristic", "recipient_group"]
    )
    row = change.loc[(CARDIFF, "data_analytics", "officers")]
    assert row["change"] > 0.5
    assert row["change_is_clear"]
    assert row["change_ci_lower"] <= row["change"] <= row["change_ci_upper"]
    assert row["level"] == 3
    assert row["level_earlier"] < 3
    assert not change.loc[(CARDIFF, "leadership", "officers"), "change_is_clear"]


def test_the_redrawn_posteriors_are_the_ones_each_wave_was_scored_with(earlier_levels) -> None:
    method = load_settings().maturity
    alpha = (1 - method.confidence_level) / 2
    cells = draw_wave_cells(earlier_levels, "2018", ["leadership"])
    row = earlier_levels.set_index(["gss_code", "characteristic", "recipient_group"]).loc[
        (CARDIFF, "leadership", "officers")
    ]
    draws = cells[(CARDIFF, "leadership")].draws["officers"]
    assert float(np.quantile(draws.lower, alpha)) == pytest.approx(row["ci_lower"])
    assert float(np.quantile(draws.upper, 1 - alpha)) == pytest.approx(row["ci_upper"])


def test_only_declared_characteristics_are_compared_and_a_mapped_one_meets_its_earlier_id(
    earlier_levels,
) -> None:
    later = rescore(earlier_levels, "2021")
    later["characteristic"] = later["characteristic"].replace({"open_data": "open_data_2021"})
    pairs = {c: c for c in later["characteristic"].unique() if c not in ("open_data_2021", "leadership")}
    pairs["open_data_2021"] = "open_data"
    change = compute_maturity_change(earlier_levels, later, Declared(characteristics=pairs))
    assert "leadership" not in set(change["characteristic"])
    mapped = change[change["characteristic"] == "open_data_2021"]
    assert set(mapped["earlier_characteristic"]) == {"open_data"}
    assert len(mapped) > 0


def test_statement_change_is_the_difference_of_the_shares_with_newcombes_interval(scored_demo) -> None:
    statements = scored_demo.scores.statement_results
    later = statements.copy()
    cardiff = (later["gss_code"] == CARDIFF) & (later["statement_id"] == "clear_vision")
    later.loc[cardiff, "n_agree"] = later.loc[cardiff, "n_valid"]
    change = compute_statement_change(statements, later, Declared()).set_index(
        ["gss_code", "statement_id", "recipient_group"]
    )
    same = change.loc[(DENBIGHSHIRE, "clear_vision", "officers")]
    assert same["change"] == 0
    assert not same["change_is_clear"]
    row = change.loc[(CARDIFF, "clear_vision", "officers")]
    assert row["change"] == pytest.approx(1 - row["share_agree_earlier"])
    assert row["change_ci_lower"] <= row["change"] <= row["change_ci_upper"] <= 1


def release_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A controlled table as a reader reads it back from the release's CSV (text)."""
    return table.astype(str).replace({"<NA>": "", "nan": ""})


def test_a_change_is_published_only_where_both_waves_publish_the_row(scored_demo, earlier_levels) -> None:
    later_levels = rescore(improved(earlier_levels, CARDIFF, "data_analytics"), "2021")
    later_scores = replace(
        scored_demo.scores,
        wave="2021",
        maturity_levels=pd.concat([later_levels, compute_wales_levels(later_levels, "2021")]),
        earlier_wave="2018",
    )
    answers = open_answer_tables(later_scores, None)
    earlier_release = release_rows(open_answer_tables(scored_demo.scores, None).maturity_levels)
    # A row the earlier release withholds that this wave would publish.
    key = (earlier_release["gss_code"] == CARDIFF) & (earlier_release["characteristic"] == "leadership")
    earlier_release.loc[key & (earlier_release["recipient_group"] == "officers"), "status"] = "[c]"
    scores = replace(
        later_scores, maturity_change=compute_maturity_change(earlier_levels, later_levels, Declared())
    )
    table = open_maturity_change(scores, answers.maturity_levels, earlier_release)
    indexed = table.set_index(["gss_code", "characteristic", "recipient_group"])
    withheld_then = indexed.loc[(CARDIFF, "leadership", "officers")]
    assert withheld_then["status"] == "[c]"
    assert pd.isna(withheld_then["mean_level_change"])
    assert pd.isna(withheld_then["mean_level_earlier"])
    assert pd.isna(withheld_then["change_ci_lower"])
    withheld_now = answers.maturity_levels[answers.maturity_levels["status"] != ""]
    for row in withheld_now.itertuples():
        if (row.gss_code, row.characteristic, row.recipient_group) in indexed.index:
            assert indexed.loc[(row.gss_code, row.characteristic, row.recipient_group), "status"] == "[c]"
    shown = table[table["status"] == ""]
    assert len(shown) > 0
    # Every published change adds up from the two printed means.
    assert np.allclose(
        shown["mean_level_change"].astype(float),
        shown["mean_level"].astype(float) - shown["mean_level_earlier"].astype(float),
    )
    published_now = answers.maturity_levels.set_index(["gss_code", "characteristic", "recipient_group"])
    sample = shown.set_index(["gss_code", "characteristic", "recipient_group"])
    assert (sample["mean_level"] == published_now.loc[sample.index, "mean_level"]).all()
    rise = indexed.loc[(CARDIFF, "data_analytics", "officers")]
    assert rise["change_is_clear"]
    assert rise["level_change"] >= 1


def test_statement_change_rows_follow_both_releases(scored_demo) -> None:
    answers = open_answer_tables(scored_demo.scores, None)
    earlier_release = release_rows(answers.statement_results)
    scores = replace(
        scored_demo.scores,
        wave="2021",
        earlier_wave="2018",
        statement_change=compute_statement_change(
            scored_demo.scores.statement_results, scored_demo.scores.statement_results, Declared()
        ),
    )
    table = open_statement_change(scores, answers.statement_results, earlier_release)
    withheld = set(
        answers.statement_results.loc[
            answers.statement_results["status"] != "", ["gss_code", "statement_id", "recipient_group"]
        ].itertuples(index=False, name=None)
    )
    assert withheld, "the demo withholds some statement rows"
    for row in table.itertuples():
        key = (row.gss_code, row.statement_id, row.recipient_group)
        assert (row.status == "[c]") == (key in withheld)
    shown = table[table["status"] == ""]
    assert (shown["pct_agree_change"].astype(float) == 0).all()


def change_row(
    characteristic: str, group: str, then: float, now: float, interval: tuple[float, float]
) -> dict:
    """A published maturity_change row of Cardiff's."""
    return {
        "gss_code": CARDIFF,
        "characteristic": characteristic,
        "recipient_group": group,
        "status": "",
        "mean_level_earlier": then,
        "mean_level": now,
        "mean_level_change": round(now - then, 3),
        "change_ci_lower": interval[0],
        "change_ci_upper": interval[1],
        "change_is_clear": interval[0] > 0 or interval[1] < 0,
        "level_earlier": 1 if then < 1.5 else 2,
        "level": 1 if now < 1.5 else 2,
    }


def test_the_council_change_section_says_what_moved_what_did_not_and_what_cannot_be_compared() -> None:
    withheld = {**change_row("corporate_standards", "all", 0, 0, (0, 0)), "status": "[c]"}
    changes = {
        "maturity_change": pd.DataFrame(
            [
                change_row("leadership", "all", 1.40, 1.90, (0.2, 0.8)),
                change_row("data_analytics", "all", 1.80, 1.70, (-0.35, 0.15)),
                change_row("data_protection", "officers", 2.10, 1.60, (-0.8, -0.2)),
                withheld,
            ]
        ),
        "statement_change": pd.DataFrame(columns=["gss_code", "statement_id", "recipient_group", "status"]),
    }
    settings = load_settings()
    comparison = WaveComparison(
        earlier="2018",
        later="2021",
        characteristics={c.id: c.id for c in settings.characteristics if c.id != "open_data"},
        statements={"clear_vision": "clear_vision"},
        not_comparable={"open_data": "reworded"},
        new_statements=("share_with_partners",),
        dropped_statements=("know_what_to_share",),
    )
    section = council_change(changes, comparison, CARDIFF, "Cardiff", "en")
    assert section is not None
    moved = " ".join(section["moved"])
    assert "Leadership went up" in moved
    assert "from level 1 to level 2" in moved
    assert "Data protection went down" in moved
    assert "officers gave a mean of 1.60" in moved
    assert "data analytics" in section["still"]
    assert "could be chance" in section["largest_unclear"]
    cannot = " ".join(section["cannot"])
    assert "corporate standards" in cannot  # withheld in a wave
    assert "Open data: The question was reworded" in cannot
    assert "new in 2021" in cannot
    assert "asked in 2018 but not in 2021" in cannot
    verdicts = {item["name"]: item["verdict"] for item in section["items"]}
    assert verdicts["Leadership"] == "up"
    assert verdicts["Corporate standards"] == "withheld"
    assert "Open data" not in verdicts
    welsh = council_change(changes, comparison, CARDIFF, "Caerdydd", "cy")
    assert welsh is not None
    assert "Ers 2018" in welsh["heading"]
    assert council_change({}, comparison, CARDIFF, "Cardiff", "en") is None
