"""Findings, summary and next steps: the rules, their wording in both languages, and the demo's reports."""

from __future__ import annotations

import difflib
import html
import re
import string
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from maturity.findings import (
    PROBABILITY,
    PublishedFigures,
    ShownCell,
    characteristic_findings,
    choose_strengths_and_priorities,
    index_published,
    shown_cells,
    theme_findings,
)
from maturity.settings import ALL_GROUPS, WALES_GSS_CODE, load_settings
from tasks.publish import open_answer_tables
from tasks.report import (
    CONTENT_FILES,
    format_figure,
    publish_figures,
    render_reports,
    report_content,
    translate,
)
from tasks.report_words import soft_mutation

DENBIGHSHIRE, CARMARTHENSHIRE = "W06000004", "W06000010"
SIMILARITY_LIMIT = 0.85  # issue 15: two councils' prose, digits and names removed, at most this alike


def placeholders(text: str) -> set[str]:
    """The {names} a sentence template fills."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def flatten(value: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Every leaf of a nested content file, keyed by its path (lists by position)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(item, (*path, key)).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flatten(item, (*path, i)).items()}
    return {path: value}


@pytest.mark.parametrize("name", CONTENT_FILES)
def test_welsh_content_has_every_english_sentence_with_the_same_placeholders(name: str) -> None:
    english, welsh = flatten(report_content(name, "en")), flatten(report_content(name, "cy"))
    assert set(english) == set(welsh), f"report_templates/{name}.cy.yaml: keys differ from English"
    for key, text in english.items():
        assert welsh[key].strip(), f"{name}.cy.yaml {key}: empty"
        assert placeholders(text) == placeholders(welsh[key]), f"{name}.cy.yaml {key}: placeholders differ"
        if len(text) > 40:
            assert welsh[key] != text, f"{name}.cy.yaml {key}: still in English"


def test_next_steps_cover_every_characteristic_at_every_level_with_two_or_three_steps() -> None:
    steps = report_content("next_steps", "en")
    for characteristic in load_settings().characteristics:
        for level in (1, 2, 3):
            assert 2 <= len(steps[characteristic.id][level]) <= 3, (characteristic.id, level)
        assert steps[characteristic.id]["national"]


def level_row(mean: float, level: int, **changes: Any) -> dict[str, Any]:
    """A published maturity row with nothing notable about it, changed as asked."""
    row = {
        "status": "",
        "level": level,
        "mean_level": mean,
        "n_effective": 60.0,
        "likely_level_low": level,
        "likely_level_high": level,
        "p_level_1": 1.0 if level == 1 else 0.0,
        "p_level_2": 1.0 if level == 2 else 0.0,
        "p_level_3": 1.0 if level == 3 else 0.0,
        "consensus": 0.6,
        "low_base": False,
        "differs_from_rest_of_wales": False,
        "p_value_vs_rest_of_wales": 0.5,
    }
    return row | changes


def cell(characteristic: str, mean: float, level: int, wales_mean: float, **changes: Any) -> ShownCell:
    """One shown cell for all respondents beside a Wales row."""
    theme = next(c.theme for c in load_settings().characteristics if c.id == characteristic)
    row = level_row(mean, level, **changes)
    return ShownCell(characteristic, theme, ALL_GROUPS, row, level_row(wales_mean, level))


def test_each_rule_fires_on_the_figure_it_describes_and_only_then() -> None:
    quiet = cell("leadership", 1.8, 2, 1.8)
    assert characteristic_findings(quiet) == []
    below = cell("leadership", 1.3, 1, 1.8, differs_from_rest_of_wales=True, p_value_vs_rest_of_wales=0.001)
    assert [f.rule for f in characteristic_findings(below)] == ["below_wales"]
    above = cell("leadership", 2.4, 2, 1.8, differs_from_rest_of_wales=True)
    assert [f.rule for f in characteristic_findings(above)] == ["above_wales"]
    between = cell("leadership", 1.55, 2, 1.8, likely_level_low=1, likely_level_high=2, p_level_2=0.6)
    (finding,) = characteristic_findings(between)
    assert finding.rule == "between_levels"
    assert finding.figures["probability"][1] == 0.6
    spread = cell("leadership", 2.0, 2, 1.8, consensus=0.39)
    assert [f.rule for f in characteristic_findings(spread)] == ["low_consensus"]
    at_threshold = cell(
        "leadership", 2.0, 2, 1.8, consensus=load_settings().maturity.consensus_disagree_below
    )
    assert characteristic_findings(at_threshold) == []
    few = cell("leadership", 2.0, 2, 1.8, low_base=True, n_effective=7.5)
    assert [f.rule for f in characteristic_findings(few)] == ["low_base"]


def test_strengths_and_priorities_follow_the_stated_order_and_never_overlap() -> None:
    cells = [
        cell("leadership", 2.6, 3, 2.0),  # highest level, not flagged
        cell("corporate_standards", 2.2, 2, 1.8, differs_from_rest_of_wales=True),  # clearly above
        cell("integrated_customer_data", 1.9, 2, 1.7),
        cell("data_protection", 1.9, 2, 2.2),
        cell("data_analytics", 1.45, 1, 1.6),
        cell("data_driven_decisions", 1.7, 2, 2.1, differs_from_rest_of_wales=True),  # clearly below
        cell("open_data", 1.2, 1, 1.5),
    ]
    strengths, priorities = choose_strengths_and_priorities(cells, 3)
    assert [c.characteristic for c in strengths] == [
        "corporate_standards",
        "leadership",
        "integrated_customer_data",
    ]
    assert [c.characteristic for c in priorities] == ["data_driven_decisions", "open_data", "data_analytics"]
    few_strengths, few_priorities = choose_strengths_and_priorities(cells[:4], 3)
    assert len(few_strengths) == 3
    assert len(few_priorities) == 1
    assert not {c.characteristic for c in few_strengths} & {c.characteristic for c in few_priorities}


def test_a_figure_clearly_below_wales_is_never_a_strength_nor_one_clearly_above_a_priority() -> None:
    weak = [
        cell("leadership", 1.68, 1, 1.94, differs_from_rest_of_wales=True),  # clearly below
        cell("data_protection", 1.99, 2, 2.14, differs_from_rest_of_wales=True),  # clearly below
        cell("open_data", 1.33, 1, 1.60, differs_from_rest_of_wales=True),  # clearly below
        cell("data_analytics", 1.5, 2, 1.6),
    ]
    strengths, priorities = choose_strengths_and_priorities(weak, 3)
    assert [c.characteristic for c in strengths] == ["data_analytics"]
    assert len(priorities) == 3
    assert all(c.differs and c.difference < 0 for c in priorities)
    strong = [
        cell("leadership", 2.6, 3, 2.0, differs_from_rest_of_wales=True),
        cell("open_data", 1.85, 2, 1.60, differs_from_rest_of_wales=True),  # clearly above, yet its lowest
    ]
    strengths, priorities = choose_strengths_and_priorities(strong, 1)
    assert [c.characteristic for c in strengths] == ["leadership"]
    assert priorities == []


def small_release(flag: bool) -> PublishedFigures:
    """A release of one council and Wales on the leadership characteristic and one statement."""
    settings = load_settings()
    statement = next(s for s in settings.statements if s.theme == "vision_leadership_culture")
    levels = pd.DataFrame(
        [
            {"gss_code": code, "characteristic": "leadership", "recipient_group": ALL_GROUPS, **row}
            for code, row in (("W06000001", level_row(1.8, 2)), (WALES_GSS_CODE, level_row(1.8, 2)))
        ]
    )
    statements = pd.DataFrame(
        [
            {
                "gss_code": code,
                "statement_id": statement.id,
                "theme": statement.theme,
                "recipient_group": ALL_GROUPS,
                "status": "",  # published
                "pct_agree": pct,
                "n_valid": 50,
                "differs_from_rest_of_wales": flag if code != WALES_GSS_CODE else pd.NA,
                "p_value_vs_rest_of_wales": 0.001 if code != WALES_GSS_CODE else pd.NA,
            }
            for code, pct in (("W06000001", 40.0), (WALES_GSS_CODE, 20.0))
        ]
    )
    gaps = pd.DataFrame(columns=["gss_code", "item_id", "measure", "gap_is_clear"])
    return index_published(levels, statements, gaps)


def test_a_statement_finding_needs_the_published_flag() -> None:
    quiet = theme_findings(small_release(False), "W06000001", "vision_leadership_culture")
    assert not [f for f in quiet if f.rule.startswith("statement_")]
    flagged = theme_findings(small_release(True), "W06000001", "vision_leadership_culture")
    assert "statement_higher" in [f.rule for f in flagged]


@pytest.fixture(scope="module")
def reports(scored_demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every report of the demo study, HTML only."""
    version = tmp_path_factory.mktemp("version")
    render_reports(scored_demo.scores, scored_demo.study, version, pdf=False)
    return version / "reports" / "2018"


def section(page: str, section_id: str) -> str:
    """The visible text of one <section id=...> of a page."""
    found = re.search(rf'<section id="{section_id}".*?</section>', page, flags=re.S)
    assert found, f"no section {section_id}"
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", found.group(0))))


def test_every_council_report_has_a_summary_and_next_steps_in_both_languages(reports: Path) -> None:
    settings = load_settings()
    for council in settings.councils:
        for language in ("en", "cy"):
            page = (reports / f"{council.gss_code}.{language}.html").read_text()
            summary = section(page, "summary")
            for characteristic in settings.characteristics:
                assert translate(language, characteristic.name_en) in summary, council.gss_code
            picks = re.search(r'<div class="picks">(.*?)</div>\s*</div>', page, flags=re.S)
            assert picks, council.gss_code
            strengths, priorities = picks.group(1).split("<h3>")[1:]
            for listed, fewer in ((strengths, "fewer_strengths"), (priorities, "fewer_priorities")):
                summary = report_content("findings", language)["summary"]
                note = summary[fewer] if "<li>" in listed else summary[fewer.replace("fewer", "no")]
                assert listed.count("<li>") == 3 or note in html.unescape(listed), council.gss_code
            assert page.count('<section id="next-steps"') == 1
            assert len(re.findall(r'<h3 id="next-', page)) == len(settings.characteristics), council.gss_code
            assert section(page, "next-steps").strip()


def test_denbighshire_summary_cites_its_published_figures(scored_demo, reports: Path) -> None:
    page = (reports / f"{DENBIGHSHIRE}.en.html").read_text()
    summary = section(page, "summary")
    assert "50% of the officers and 19% of the elected members we invited replied (42% overall)" in summary
    published = open_answer_tables(scored_demo.scores, None).maturity_levels
    mine = published[(published["gss_code"] == DENBIGHSHIRE) & (published["recipient_group"] == "officers")]
    analytics = mine.set_index("characteristic").loc["data_analytics"]
    wales = published[
        (published["gss_code"] == WALES_GSS_CODE) & (published["recipient_group"] == "officers")
    ]
    wales_analytics = wales.set_index("characteristic").loc["data_analytics"]
    cited = (
        f"Data analytics (officers only): level {analytics['level']}, mean {analytics['mean_level']:.2f}, "
        f"clearly below the Wales figure of {wales_analytics['mean_level']:.2f}."
    )
    assert cited in summary
    welsh = section((reports / f"{DENBIGHSHIRE}.cy.html").read_text(), "summary")
    assert "Crynodeb" in welsh
    assert "Ble i ganolbwyntio gyntaf" in welsh


def test_a_theme_where_no_rule_fires_says_so(reports: Path) -> None:
    none = report_content("findings", "en")["none"]
    pages = [path.read_text() for path in sorted(reports.glob("W06*.en.html"))]
    assert any(html.escape(none, quote=False) in page or none in html.unescape(page) for page in pages)


def prose(page: str, names: set[str]) -> list[str]:
    """A page's words without digits, markup or council names: what two councils' reports share."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    return [word for word in re.findall(r"[^\W\d_]+", text) if word not in names]


def test_two_councils_reports_say_different_things(reports: Path) -> None:
    names = {
        word
        for council in load_settings().councils
        for name in (council.name_en, council.name_cy, council.official_name_en, council.official_name_cy)
        for word in re.findall(r"[^\W\d_]+", name)
    }
    first, second = (
        prose((reports / f"{code}.en.html").read_text(), names) for code in (DENBIGHSHIRE, CARMARTHENSHIRE)
    )
    alike = difflib.SequenceMatcher(None, first, second, autojunk=False).ratio()
    assert alike <= SIMILARITY_LIMIT, f"Denbighshire and Carmarthenshire reports {alike:.3f} alike"


def test_next_steps_add_the_steps_this_councils_findings_call_for(scored_demo, reports: Path) -> None:
    steps = section((reports / f"{DENBIGHSHIRE}.en.html").read_text(), "next-steps")
    prompted = report_content("findings", "en")["next_steps"]["prompted"]
    # Denbighshire's officers are clearly below Wales on data analytics (the summary's first priority):
    # the step names the three other councils with the highest published figures on it.
    published = open_answer_tables(scored_demo.scores, None).maturity_levels
    analytics = published[
        (published["characteristic"] == "data_analytics")
        & (published["status"] == "")
        & published["level"].notna()
        & ~published["gss_code"].isin([DENBIGHSHIRE, WALES_GSS_CODE])
    ]
    order = {"all": 0, "officers": 1, "elected_members": 2}  # the combined figure, else a group's own
    shown = analytics.assign(order=analytics["recipient_group"].map(order)).sort_values("order")
    names = {c.gss_code: c.name_en for c in load_settings().councils}
    shown = shown.drop_duplicates("gss_code").assign(name=lambda t: t["gss_code"].map(names))
    shown = shown.sort_values(["mean_level", "name"], ascending=[False, True])  # ties by name
    top = list(shown["name"][:3])
    peers = f"{top[0]}, {top[1]} and {top[2]}"
    assert prompted["below_wales"].format(characteristic="data analytics", peers=peers) in steps
    # Its elected members were too few for combined figures: asked once, not under every characteristic.
    assert steps.count(prompted["one_group_only"].format(missing="elected members")) == 1


def test_a_group_is_told_too_few_answered_only_where_fewer_than_the_threshold_did(
    scored_demo, reports: Path
) -> None:
    rates = scored_demo.scores.response_rates.set_index(["gss_code", "recipient_group"])["responses"]
    threshold = load_settings().disclosure.min_valid_answers
    findings = report_content("findings", "en")
    told = []
    for council in load_settings().councils:
        page = html.unescape((reports / f"{council.gss_code}.en.html").read_text())
        for group, missing in findings["missing"].items():
            if findings["next_steps"]["prompted"]["one_group_only"].format(missing=missing) in page:
                told.append(council.gss_code)
                assert rates[(council.gss_code, group)] < threshold, (council.gss_code, group)
        assert "Too few elected members answered" not in page
        assert "Too few officers answered" not in page
    assert told  # the demo has councils whose members were too few


def test_the_national_heatmap_shows_every_council_with_a_published_figure(scored_demo, reports: Path) -> None:
    # Before: a council whose elected members were too few showed "[c]" in every cell (11 of 22 in the
    # demo) although its officers' levels are published; the counts beneath covered only the other 11.
    published = open_answer_tables(scored_demo.scores, None).maturity_levels
    shown = published[(published["status"] == "") & published["level"].notna()]
    page = (reports / "national.en.html").read_text()
    assert "level-None" not in page
    heatmap = re.search(r'<table id="levels-heatmap".*?</table>', page, flags=re.S).group(0)
    rows = dict(re.findall(r'<a href="(W\d+)\.en\.html">[^<]+</a></th>(.*?)</tr>', heatmap))
    for code, cells in rows.items():
        mine = shown[shown["gss_code"] == code]
        expected = len(set(mine["characteristic"]))
        assert len(re.findall(r">\d(?:<sup>[†‡]</sup>)?\*?</td>", cells)) == expected, code
    officers_only = [code for code, cells in rows.items() if "<sup>†</sup>" in cells]
    assert officers_only  # the demo has councils whose combined figures are withheld
    assert "officers&#39; own level: the combined figure is withheld" in page


def test_the_national_report_opens_with_key_findings_from_published_figures(
    scored_demo, reports: Path
) -> None:
    figures = publish_figures(scored_demo.scores, open_answer_tables(scored_demo.scores, None))
    total = sum(sum(counts) for counts in figures.distribution.values())
    for language in ("en", "cy"):
        page = html.unescape((reports / f"national.{language}.html").read_text())
        key = re.search(r'<section id="key-findings".*?</section>', page, flags=re.S).group(0)
        assert page.index('id="key-findings"') < page.index(
            'id="levels-heatmap"'
        )  # first, as in the reference
        assert f" {total} " in key  # every published council level, counted once
        assert key.count("<li>") >= 4


def test_a_withheld_combined_statement_shows_the_officers_own_figure_beside_theirs_for_wales(
    scored_demo, reports: Path
) -> None:
    # Before: every statement of a council whose elected members were too few read "[c]" although its
    # officers' figures are published (Denbighshire: 7.7% of 65 officers agreed on a clear vision).
    statements = open_answer_tables(scored_demo.scores, None).statement_results.set_index(
        ["gss_code", "statement_id", "recipient_group"]
    )
    mine = statements.loc[(DENBIGHSHIRE, "clear_vision")]
    assert mine.loc["all", "status"] == "[c]"
    officers, wales = mine.loc["officers"], statements.loc[(WALES_GSS_CODE, "clear_vision", "officers")]
    page = html.unescape((reports / f"{DENBIGHSHIRE}.en.html").read_text())
    row = re.search(r"<tr><th scope=\"row\">S1: The council has a clear vision.*?</tr>", page).group(0)
    dash = "\N{EN DASH}"
    interval = f"{officers['ci_lower']:.1f}{dash}{officers['ci_upper']:.1f}"
    assert f"{officers['pct_agree']:.1f}% ({interval}) (officers only)" in row
    assert f"{wales['pct_agree']:.1f}%" in row


def test_the_theme_tables_say_between_levels_wherever_the_summary_does(reports: Path) -> None:
    # Before: the summary said "Between levels 2 and 3" and the theme table "Level 2" for the same figure.
    seen = 0
    for council in load_settings().councils:
        page = (reports / f"{council.gss_code}.en.html").read_text()
        summary = page[
            page.index('<section id="summary"') : page.index("</section>", page.index('id="summary"'))
        ]
        in_summary = set(
            re.findall(r'<th scope="row">([^<]+)</th><td[^>]*>(Between levels \d and \d)', summary)
        )
        rest = page[page.index("</section>", page.index('id="summary"')) :]
        in_themes = set(
            re.findall(
                r'<th scope="row">([^<]+)</th><td[^>]*>[^<]*<br>'
                r'<span class="chance">(Between levels \d and \d)</span>',
                rest,
            )
        )
        assert in_summary == in_themes, council.gss_code
        seen += len(in_summary)
    assert seen  # the demo has figures between two levels


def test_a_level_probability_is_never_printed_as_certain_or_impossible() -> None:
    # Before: "100% chance of level 2" from a share of posterior draws, which is never a certainty.
    assert format_figure(PROBABILITY, 1.0, "en") == "more than 99%"
    assert format_figure(PROBABILITY, 0.996, "en") == "more than 99%"
    assert format_figure(PROBABILITY, 0.004, "en") == "less than 1%"
    assert format_figure(PROBABILITY, 0.5, "en") == "50%"
    assert format_figure(PROBABILITY, 1.0, "cy") == "mwy na 99%"


def test_a_theme_whose_groups_cannot_be_compared_does_not_say_they_agree(reports: Path) -> None:
    # Before: "officers and elected members do not clearly differ" where the members' figures are withheld
    # and no gap was tested.
    findings = report_content("findings", "en")
    page = html.unescape((reports / f"{DENBIGHSHIRE}.en.html").read_text())
    assert findings["none_untested"] in page
    assert findings["none"] not in page


def test_welsh_names_are_mutated_after_a_preposition_that_calls_for_it(reports: Path) -> None:
    # Before: "ar data agored", "i penderfyniadau" in every Welsh report (about 110 places).
    pages = " ".join(html.unescape(p.read_text()) for p in sorted(reports.glob("*.cy.html")))
    for wrong in (
        "ar data agored",
        "ar diogelu data",
        "ar dadansoddeg data",
        "i penderfyniadau",
        "ar data cwsmeriaid",
    ):
        assert wrong not in pages, wrong
    assert "ar ddata agored" in pages
    assert soft_mutation("theatr") == "theatr"  # ch, ph, th and ff do not mutate
    assert soft_mutation("llyfr") == "lyfr"
    assert soft_mutation("gwybodaeth") == "wybodaeth"


def test_a_council_clearly_above_wales_is_prompted_to_share_its_practice(scored_demo, reports: Path) -> None:
    # Before: strong councils got no step of their own; only weaknesses prompted one.
    published = open_answer_tables(scored_demo.scores, None).maturity_levels
    above = published[
        (published["differs_from_rest_of_wales"] == True)  # noqa: E712
        & (published["recipient_group"] == "all")
        & (published["gss_code"] != WALES_GSS_CODE)
    ]
    figures = publish_figures(scored_demo.scores, open_answer_tables(scored_demo.scores, None))
    template = report_content("findings", "en")["next_steps"]["prompted"]["share_practice"]
    told = 0
    for row in above.itertuples():
        cell = next(c for c in shown_cells(figures, row.gss_code) if c.characteristic == row.characteristic)
        if cell.group != ALL_GROUPS or cell.difference <= 0:
            continue
        name = next(c.name_en for c in load_settings().characteristics if c.id == row.characteristic)
        steps = section((reports / f"{row.gss_code}.en.html").read_text(), "next-steps")
        assert template.format(characteristic=name[:1].lower() + name[1:]) in steps, row.gss_code
        told += 1
    assert told


def test_a_case_study_from_the_council_itself_says_so(reports: Path) -> None:
    note = "This example involves this council"
    assert note in (reports / f"{DENBIGHSHIRE}.en.html").read_text()  # Conwy and Denbighshire's board
    assert note not in (reports / "W06000022.en.html").read_text()  # Newport has no case study
