"""Open data and reports show the right figures, withhold small bases and escape everything."""

from __future__ import annotations

import dataclasses
import html
import re
from pathlib import Path

import pandas as pd
import pytest

from maturity.disclosure import audit_release
from maturity.settings import load_settings
from tasks.publish import (
    council_relations,
    disclosure_rules,
    group_relations,
    open_maturity_levels,
    open_statement_results,
    publish_open_data,
)
from tasks.report import council_context, render_reports, template_environment


def _text(page: str) -> str:
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_open_data_csvs_have_codes_names_and_reference_figures(scored_demo, tmp_path: Path) -> None:
    paths = publish_open_data(scored_demo.scores, tmp_path)
    assert {
        "councils.csv",
        "response_rates.csv",
        "maturity_levels.csv",
        "statement_results.csv",
        "perception_gaps.csv",
        "public_survey_results.csv",
    } <= {p.name for p in paths}
    rates = pd.read_csv(tmp_path / "open-data" / "2018" / "response_rates.csv", dtype={"wave": str})
    denbighshire = rates[rates["gss_code"] == "W06000004"].set_index("recipient_group")
    assert denbighshire.loc["officers", ["invited", "responses"]].tolist() == [133, 67]
    assert denbighshire.loc["total", "response_rate_pct"] == pytest.approx(42.2)
    assert set(denbighshire["council_name_cy"]) == {"Sir Ddinbych"}
    assert "W92000004" in set(rates["gss_code"])
    levels = pd.read_csv(tmp_path / "open-data" / "2018" / "maturity_levels.csv")
    assert len(levels) == (22 + 1) * 7 * 3  # every council, and Wales, x characteristic x group
    assert set(levels["recipient_group"]) == {"all", "officers", "elected_members"}
    assert levels["level"].dropna().isin([1, 2, 3]).all()
    combined = levels[levels["recipient_group"] == "all"]
    assert (combined["level"].dropna() <= 2).mean() > 0.8  # most councils at levels 1-2, as the study found


def test_open_data_contains_no_respondent_level_or_free_text(
    scored_demo, demo_study: Path, tmp_path: Path
) -> None:
    publish_open_data(scored_demo.scores, tmp_path)
    published = "".join(p.read_text() for p in (tmp_path / "open-data").rglob("*.csv"))
    comments = pd.read_csv(demo_study / "responses" / "service_managers.csv", dtype=str)["comments"].dropna()
    assert not any(comment in published for comment in comments.unique())
    assert "@example-council.gov.uk" not in published
    assert "R_" not in published


def test_statistics_on_fewer_than_ten_valid_answers_are_withheld_with_their_base(scored_demo) -> None:
    published, _ = open_maturity_levels(scored_demo.scores)
    small = scored_demo.scores.maturity_levels["n_valid"] < 10
    keys = scored_demo.scores.maturity_levels.loc[small, ["gss_code", "characteristic", "recipient_group"]]
    merged = published.merge(keys, on=["gss_code", "characteristic", "recipient_group"])
    assert len(merged) == int(small.sum()) > 0
    assert (merged["status"] == "[c]").all()
    assert merged[["n_valid", "mean_level", "level", "ci_lower"]].isna().all().all()


def test_withholding_applies_to_published_maturity(scored_demo) -> None:
    scores = scored_demo.scores
    tweaked = scores.maturity_levels.copy()
    first = tweaked.index[tweaked["recipient_group"] == "all"][0]
    tweaked.loc[first, "n_valid"] = 3
    key = tweaked.loc[first, ["gss_code", "characteristic"]].tolist()
    published, _ = open_maturity_levels(dataclasses.replace(scores, maturity_levels=tweaked))
    cell = published[(published["gss_code"] == key[0]) & (published["characteristic"] == key[1])]
    assert cell.set_index("recipient_group").at["all", "status"] == "[c]"
    assert published.loc[published["status"] == "[c]", "mean_level"].isna().all()
    assert published.loc[published["status"] == "", "mean_level"].notna().all()


def test_reports_for_every_council_and_national(scored_demo, tmp_path: Path) -> None:
    paths = render_reports(scored_demo.scores, scored_demo.study, tmp_path, pdf=False)
    names = {p.name for p in paths}
    stems = [c.gss_code for c in load_settings().councils] + ["national"]
    assert names == {f"{stem}.{lang}.html" for stem in stems for lang in ("en", "cy")} | {"index.html"}
    denbighshire = _text((tmp_path / "reports" / "2018" / "W06000004.en.html").read_text())
    assert "Data tool recipients Number invited Responses received Percentage responded" in denbighshire
    assert "Officers 133 67 50%" in denbighshire
    assert "Elected Members 47 9 19%" in denbighshire
    assert "Total 180 76 42%" in denbighshire
    assert "Denbighshire County Council" in denbighshire
    for theme in (
        "Vision, leadership & culture",
        "Data protection",
        "Skills & capacity",
        "Evidence-based decisions",
    ):
        assert f"What we found in Denbighshire County Council: {theme}" in denbighshire
    assert "Part 3: good practice councils can learn from" in denbighshire
    national = _text((tmp_path / "reports" / "2018" / "national.en.html").read_text())
    assert "Merthyr Tydfil" in national
    assert "Isle of Anglesey" in national


def test_report_values_are_escaped(scored_demo) -> None:
    context = council_context(scored_demo.scores, scored_demo.study, "W06000004", draft=True)
    context["study_title"] = "<script>alert('x')</script>"
    page = template_environment().get_template("council.html.j2").render(context)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page


def test_statement_results_csv_has_the_agreed_columns_and_wales(scored_demo, tmp_path: Path) -> None:
    publish_open_data(scored_demo.scores, tmp_path)
    table = pd.read_csv(tmp_path / "open-data" / "2018" / "statement_results.csv", keep_default_na=False)
    assert table.columns.tolist() == [
        "wave",
        "gss_code",
        "council_name_en",
        "council_name_cy",
        "statement_id",
        "theme",
        "recipient_group",
        "n_valid",
        "pct_agree",
        "ci_lower",
        "ci_upper",
        "low_base",
        "p_value_vs_rest_of_wales",
        "differs_from_rest_of_wales",
        "status",
    ]
    wales = table[table["gss_code"] == "W92000004"]
    assert set(wales["recipient_group"]) == {"all", "officers", "elected_members"}
    scored = scored_demo.scores.statement_results
    assert len(wales) == int((scored["gss_code"] == "W92000004").sum())  # each statement's groups and all
    assert set(wales["statement_id"]) == {s.id for s in load_settings().statements_in(scored_demo.study.wave)}
    assert (wales[["p_value_vs_rest_of_wales", "differs_from_rest_of_wales"]] == "").all().all()
    shown = table[table["status"] == ""]
    assert (shown["n_valid"].astype(int) >= 10).all()
    values = shown[["pct_agree", "ci_lower", "ci_upper"]].astype(float)
    assert ((values["ci_lower"] <= values["pct_agree"]) & (values["pct_agree"] <= values["ci_upper"])).all()
    withheld = table[table["status"] == "[c]"]
    assert (withheld[["pct_agree", "ci_lower", "ci_upper"]] == "").all().all()


@pytest.mark.parametrize(
    ("publish", "item", "statistic"),
    [
        (open_maturity_levels, "characteristic", "mean_level"),
        (open_statement_results, "statement_id", "pct_agree"),
    ],
)
def test_published_tables_leave_nothing_for_the_integer_audit(scored_demo, publish, item, statistic) -> None:
    table, snapshot = publish(scored_demo.scores)
    relations = group_relations(table, item) + (
        council_relations(table, item) if item == "statement_id" else []
    )
    withheld = (table["status"] == "[c]").to_numpy()
    assert withheld.any()
    assert (~withheld).any()
    assert audit_release([snapshot], relations, disclosure_rules()) == []
    # Beyond the small cells: all-respondents rows of a council with a withheld group, on 10 or more.
    assert (snapshot.counts[withheld].sum(axis=1) >= 10).any()
    assert table.loc[withheld, statistic].isna().all()
    # A council's all figure is published only with both its groups.
    status = table.set_index(["gss_code", item, "recipient_group"])["status"]
    for (gss, key, group), value in status.items():
        if group == "all" and gss != "W92000004" and value == "":
            assert (
                status.get((gss, key, "officers"), "") == status.get((gss, key, "elected_members"), "") == ""
            )


def test_public_survey_results_csv_is_national_only(scored_demo, tmp_path: Path) -> None:
    publish_open_data(scored_demo.scores, tmp_path)
    table = pd.read_csv(tmp_path / "open-data" / "2018" / "public_survey_results.csv", keep_default_na=False)
    assert set(table["area_code"]) == {"W92000004"}
    assert set(table["area_name_cy"]) == {"Cymru"}
    assert table["question_id"].tolist() == ["q_effective_use", "q_told_personal_data"]
    assert table["estimate_pct"].between(0, 100).all()
    assert (table["n_effective"] <= table["n_respondents"]).all()
    assert set(table["status"]) == {""}


def test_open_data_contains_no_redacted_comments_either(scored_demo, tmp_path: Path) -> None:
    publish_open_data(scored_demo.scores, tmp_path)
    published = "".join(p.read_text() for p in (tmp_path / "open-data").rglob("*.csv"))
    quotes = scored_demo.scores.comment_themes["comment_redacted"].unique()
    assert not any(quote in published for quote in quotes)
    assert "[name]" not in published


def test_no_published_table_carries_a_restricted_column(scored_demo) -> None:
    """Columns found only in restricted warehouse tables (ids, roles, free text) never reach open data."""
    from maturity.output_contracts import warehouse_contracts
    from tasks.publish import open_answer_tables, open_tables

    tables = warehouse_contracts()

    restricted = {name for spec in tables.values() if spec.restricted for name in spec.schema.names}
    public = {name for spec in tables.values() if not spec.restricted for name in spec.schema.names}
    only_restricted = restricted - public
    assert {"response_id", "respondent_id", "comment", "comment_redacted", "role"} <= only_restricted
    answers = open_answer_tables(scored_demo.scores, None)
    for name, table in open_tables(scored_demo.scores, answers).items():
        assert not only_restricted & set(table.columns), name


def test_reports_show_the_disclosure_controlled_figures_of_the_open_data(scored_demo, tmp_path: Path) -> None:
    from tasks.publish import open_answer_tables

    render_reports(scored_demo.scores, scored_demo.study, tmp_path, pdf=False)
    levels = open_answer_tables(scored_demo.scores, None).maturity_levels
    for gss_code in ("W06000004", "W06000015"):
        text = _text((tmp_path / "reports" / "2018" / f"{gss_code}.en.html").read_text())
        council = levels[levels["gss_code"] == gss_code].set_index(["characteristic", "recipient_group"])
        for characteristic in council.index.get_level_values(0).unique():
            row = council.loc[(characteristic, "all")]
            if row["status"] == "[c]":
                row = council.loc[(characteristic, "officers")]
                assert "(officers only)" in text
            shown = f"{row['mean_level']:.2f} ({row['ci_lower']:.2f}\u2013{row['ci_upper']:.2f})"
            assert shown in text, (gss_code, characteristic, shown)
