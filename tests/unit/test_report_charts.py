"""Charts that read alone (axes, labels, bases, marks) and quotes under every theme, with their language."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import numpy as np
import pytest

from maturity.settings import WALES_GSS_CODE, load_settings
from tasks.publish import open_answer_tables
from tasks.report import (
    DIFFERENCE_MARK,
    WITHHELD,
    ReportInputs,
    axis_ticks,
    index_quotes,
    publish_figures,
    quote_rows,
    render_page,
    statement_axis,
    statement_rows,
    template_environment,
)
from tasks.score import LEVELS

DENBIGHSHIRE = "W06000004"
# The brief: at least this many of the 22 demo councils get quotes in at least this many report themes.
COUNCILS_WITH_QUOTES = 15
THEMES_QUOTED = 3


@pytest.fixture(scope="module")
def published(scored_demo):
    return open_answer_tables(scored_demo.scores, None)


@pytest.fixture(scope="module")
def figures(scored_demo, published):
    return publish_figures(scored_demo.scores, published)


def _render(scored_demo, published, stem: str, language: str) -> str:
    return render_page(
        ReportInputs(
            scored_demo.scores,
            scored_demo.study,
            True,
            published,
            publish_figures(scored_demo.scores, published),
            index_quotes(scored_demo.scores),
        ),
        stem,
        language,
    )


@pytest.mark.parametrize(
    ("highest", "ticks"),
    [
        (47.3, [0, 10, 20, 30, 40, 50]),
        (61.0, [0, 20, 40, 60, 80]),
        (99.5, [0, 20, 40, 60, 80, 100]),
        (12.0, [0, 2.5, 5, 7.5, 10, 12.5]),
        (0.0, [0, 20, 40, 60, 80, 100]),  # nothing shown: the full scale
    ],
)
def test_the_axis_runs_from_zero_to_a_round_number_covering_the_data(highest: float, ticks: list) -> None:
    assert axis_ticks(highest) == ticks


def test_every_statement_chart_covers_every_interval_it_shows(scored_demo, figures) -> None:
    narrower = 0
    for council in load_settings().councils:
        for theme in load_settings().themes:
            rows = statement_rows(
                figures,
                scored_demo.scores.wave,
                council.gss_code,
                theme.id,
                "en",
            )
            top = statement_axis(rows, "en")[-1]["value"]
            uppers = [r[p]["upper"] for r in rows for p in ("council", "wales") if r[p]["shown"]]
            assert all(upper <= top for upper in uppers)
            narrower += top < 100
    assert narrower > 0  # scaled to the data, not fixed at 0-100


def test_statement_rows_carry_short_labels_direction_and_bases(scored_demo, figures) -> None:
    rows = statement_rows(
        figures,
        scored_demo.scores.wave,
        DENBIGHSHIRE,
        "data_protection",
        "cy",
    )
    blocks = next(r for r in rows if r["label"] == "S1")
    assert blocks["short"] == "Diogelu data yn atal rhannu"
    assert blocks["direction"] == "gorau po isaf"
    assert all(r["direction"] == "" for r in rows if r["label"] != "S1")
    for row in rows:
        for place in ("council", "wales"):
            figure = row[place]
            assert figure["n"] == WITHHELD if figure["withheld"] else re.fullmatch(r"[\d,]+", figure["n"])


def test_a_withheld_figure_shows_c_in_chart_and_table(scored_demo, published) -> None:
    table = published.statement_results.copy()
    withheld = table[(table["status"] != "") & (table["recipient_group"] == "all")]
    assert not withheld.empty, "the demo should have a withheld statement figure"
    gss, theme, statement = withheld.iloc[0][["gss_code", "theme", "statement_id"]]
    # Every group's figure withheld too: else the report shows a group's own figure in its place.
    cell = (table["gss_code"] == gss) & (table["statement_id"] == statement)
    table.loc[cell, "status"] = WITHHELD
    table.loc[cell, ["n_valid", "pct_agree", "ci_lower", "ci_upper"]] = np.nan
    page = _render(scored_demo, dataclasses.replace(published, statement_results=table), gss, "en")
    section = page[page.index(f'id="statements-{theme}-title"') :]
    chart = section[: section.index("</svg>")]
    table_html = section[: section.index("</table>")]
    assert f">{WITHHELD}</text>" in chart
    assert f'<td class="num">{WITHHELD}</td>' in table_html


def test_a_clear_difference_is_marked_in_chart_and_table(scored_demo, published, figures) -> None:
    table = published.statement_results
    flagged = table[(table["differs_from_rest_of_wales"] == True) & (table["gss_code"] != WALES_GSS_CODE)]  # noqa: E712
    flagged = flagged[flagged["recipient_group"] == "all"]
    assert not flagged.empty
    gss, theme = flagged.iloc[0][["gss_code", "theme"]]
    rows = statement_rows(figures, scored_demo.scores.wave, gss, theme, "en")
    assert any(r["flagged"] for r in rows)
    page = _render(scored_demo, published, gss, "en")
    section = page[page.index(f'id="statements-{theme}-title"') :]
    chart, rest = section.split("</svg>", 1)
    assert re.search(rf">{DIFFERENCE_MARK} [\d.]+%", chart)
    assert f"<td>{DIFFERENCE_MARK} " in rest[: rest.index("</table>")]
    unflagged = [r for r in rows if not r["flagged"]]
    assert len(re.findall(rf">{DIFFERENCE_MARK} [\d.]+%", chart)) == len(rows) - len(unflagged)


def test_statement_charts_have_an_axis_title_and_read_without_the_table(scored_demo, published) -> None:
    page = _render(scored_demo, published, DENBIGHSHIRE, "cy")
    chart = page[page.index('id="statements-data_protection-title"') :]
    chart = chart[: chart.index("</svg>")]
    assert ">% yn cytuno</text>" in chart
    assert "Diogelu data yn atal rhannu" in chart
    assert "(gorau po isaf)" in chart
    assert "n = " in chart


def test_every_report_theme_gets_quotes_in_most_demo_councils(scored_demo) -> None:
    themes = [t.id for t in load_settings().themes]
    quoted = Counter()
    for council in load_settings().councils:
        shown = [
            t for t in themes if quote_rows(index_quotes(scored_demo.scores), council.gss_code, t, draft=True)
        ]
        quoted[council.gss_code] = len(shown)
    assert sum(count >= THEMES_QUOTED for count in quoted.values()) >= COUNCILS_WITH_QUOTES
    seen = {
        t
        for c in load_settings().councils
        for t in themes
        if quote_rows(index_quotes(scored_demo.scores), c.gss_code, t, draft=True)
    }
    assert seen == set(themes)


def test_no_report_quotes_a_comment_twice(scored_demo) -> None:
    for council in load_settings().councils:
        texts = [
            q["text"]
            for t in load_settings().themes
            for q in quote_rows(index_quotes(scored_demo.scores), council.gss_code, t.id, draft=True)
        ]
        assert len(texts) == len(set(texts))


def test_each_quote_carries_the_language_it_was_written_in(scored_demo, published) -> None:
    comments = scored_demo.scores.comment_themes.copy()
    chosen = comments.index[
        (comments["gss_code"] == DENBIGHSHIRE)
        & (comments["theme"] == "silos")
        & (comments["quote_rank"] == 1)
    ]
    assert len(chosen) == 1
    welsh = "Mae'r data wedi'i gadw mewn seilos adrannol ac nid yw'r systemau'n siarad â'i gilydd."
    comments.loc[chosen, "comment_redacted"] = welsh
    scores = dataclasses.replace(scored_demo.scores, comment_themes=comments)
    for language in ("en", "cy"):
        page = render_page(
            ReportInputs(
                scores,
                scored_demo.study,
                True,
                published,
                publish_figures(scores, published),
                index_quotes(scores),
            ),
            DENBIGHSHIRE,
            language,
        )
        quotes = re.findall(r'<blockquote class="[^"]+" lang="(\w+)"><p>([^<]+)</p>', page)
        assert quotes
        assert len(quotes) == page.count("<blockquote")
        languages = {text.replace("&#39;", "'"): lang for lang, text in quotes}
        assert languages[welsh] == "cy"
        assert set(lang for text, lang in languages.items() if text != welsh) == {"en"}
        # The pending note inside a quote is in the report's language, not the quote's.
        assert re.search(rf'<p class="pending" lang="{language}">', page)


def test_low_base_levels_are_marked_on_the_heatmap_with_one_legend(scored_demo, published) -> None:
    levels = published.maturity_levels.copy()
    shown = levels[
        (levels["gss_code"] != WALES_GSS_CODE)
        & (levels["recipient_group"] == "all")
        & levels["level"].notna()
    ]
    target = levels.index == shown.index[0]
    level = int(levels.loc[target, "level"].iloc[0])
    levels.loc[target, "low_base"] = True
    marked = dataclasses.replace(published, maturity_levels=levels)
    for language in ("en", "cy"):
        page = _render(scored_demo, marked, "national", language)
        heatmap = page[page.index('id="levels-heatmap"') : page.index('class="legend"')]
        cells = re.findall(r'<td class="num level-(\d)">(\d)(?:<sup>[†‡]</sup>)?(\*?)</td>', heatmap)
        assert cells.count((str(level), str(level), "*")) == 1
        assert all(shown == shade for shade, shown, _ in cells)
        legend = page[page.index('class="legend"') : page.index("</ul>", page.index('class="legend"'))]
        group_marks = sum(mark in heatmap for mark in ("<sup>†</sup>", "<sup>‡</sup>"))
        assert legend.count("<li>") == len(LEVELS) + 2 + group_marks
        assert "*" in legend
    plain = _render(scored_demo, published, "national", "en")
    legend = plain[plain.index('class="legend"') : plain.index("</ul>", plain.index('class="legend"'))]
    assert "*" not in legend  # no low base, no mark to explain


def test_level_one_is_the_same_hatch_in_tables_and_charts() -> None:
    css = template_environment().loader.get_source(template_environment(), "report.css")[0]
    charts = template_environment().loader.get_source(template_environment(), "_charts.html.j2")[0]
    rule = re.search(r"\.level-1 \{([^}]+)\}", css).group(1)
    assert "repeating-linear-gradient" in rule
    assert "print-color-adjust: exact" in rule
    pattern = re.search(r'<pattern id="\{\{ id \}\}-hatch".*?</pattern>', charts).group(0)
    for colour in re.findall(r"#[0-9a-f]{6}", pattern):
        assert colour in rule
