"""Report: render each council's local report and the national summary, in English and Welsh, as HTML and PDF.

One set of Jinja2 templates serves both languages through gettext catalogues (maturity/translations.py);
PDFs are printed by WeasyPrint from the same HTML, tagged for accessibility, in a process pool.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from prefect import task
from prefect.cache_policies import NONE
from prefect.runtime import task_run

from maturity.comments import (
    QUOTES_APPROVED_FILE,
    ThemeRules,
    build_theme_rules,
    detect_language,
    quote_hash,
    read_approved_quotes,
)
from maturity.extras import EXTRAS, is_installed, require_extra
from maturity.rounding import decimals_within_level, round_number, whole_percent
from maturity.settings import (
    ALL_GROUPS,
    TEMPLATES_DIR,
    TOTAL_GROUP,
    WALES_GSS_CODE,
    Council,
    load_comment_rules,
    load_report_prose,
    load_settings,
)
from maturity.translations import (
    JINJA_EXTENSIONS,
    LANGUAGES,
    SOURCE_LANGUAGE,
    load_translations,
    translate_tree,
)
from operations.failures import advise
from tasks.contracts import DatasetError, Study, write_csv_for_people
from tasks.pdf import print_pdf_bytes
from tasks.publish import AnswerTables, open_answer_tables
from tasks.score import LEVELS, Scores
from warehouse.store import replace_file
from warehouse.versions import inside, remove_tree

STATUSES = ("draft", "final")
LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}
BABEL_LOCALES = {"en": "en_GB", "cy": "cy_GB"}
# Quotes shown per theme, best first (quote_rank 1 is the chosen lead quote).
QUOTES_PER_THEME = 3
# The theme whose section carries the national public-survey figures, as in the reference report.
PUBLIC_SURVEY_THEME = "data_protection"
# Printed beside each count in charts so a level can be told without colour or pattern.
LEVEL_SYMBOLS = {1: "①", 2: "②", 3: "③"}
# What asks for PDFs when --pdf (report_pdf) was not given: those an earlier run printed, kept up to date.
REPRINT = "Reprinting the PDF reports an earlier run left"
NOT_AVAILABLE = "\u2013"  # an en dash, as typeset tables show a missing figure
WITHHELD = "[c]"  # a figure withheld for confidentiality, marked as in the open data
RANGE_DASH = "\u2013"  # between the ends of an interval


@cache
def template_environment(language: str = SOURCE_LANGUAGE) -> jinja2.Environment:
    """Jinja2 environment over report_templates/ for one language, escaping every value (comments too).

    One environment per language: gettext functions are environment globals, shared by overlays.
    """
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[JINJA_EXTENSIONS],
    )
    # Old-style gettext: `_()` text is not %-formatted, so "95% interval" needs no escaping; trans blocks
    # still escape the values they format.
    environment.install_gettext_translations(load_translations(language))  # type: ignore[attr-defined]
    return environment


def translate(language: str, text: str) -> str:
    """One string in the given language (English is the source)."""
    return load_translations(language).gettext(text)


@cache
def report_text(language: str) -> dict[str, Any]:
    """Report prose in one language: content.en.yaml translated through the language's catalogue."""
    return translate_tree(load_report_prose(), load_translations(language).gettext)


def format_number(value: float, language: str, decimals: int | None = None) -> str:
    """A number with fixed decimals in the language's convention, or a dash when missing.

    decimals: by default those the open data prints mean levels with, so a report never rounds a
    published figure a second time (1.749 is 1.75 there, and would wrongly become 1.8 here).
    """
    if decimals is None:
        decimals = load_settings().publication.level_decimals
    if pd.isna(value):
        return NOT_AVAILABLE
    pattern = "0." + "0" * decimals if decimals else "0"
    return format_decimal(
        round_number(float(value), decimals), format=pattern, locale=BABEL_LOCALES[language]
    )


def format_mean_level(value: float, language: str) -> str:
    """A published mean level as open data prints it: never rounded across its level's cut-off."""
    settings = load_settings()
    if pd.isna(value):
        return NOT_AVAILABLE
    cut_offs = (settings.maturity.level_2_from, settings.maturity.level_3_from)
    places = decimals_within_level(float(value), cut_offs, settings.publication.level_decimals)
    return format_number(value, language, places)


def format_whole_percent(percent: int, language: str) -> str:
    """A whole percentage in the language's convention (50%)."""
    return format_percent(percent / 100, format="#,##0%", locale=BABEL_LOCALES[language])


def format_long_date(day: date, language: str) -> str:
    """A date written out in the language (15 January 2018, 15 Ionawr 2018)."""
    return format_date(day, format="long", locale=BABEL_LOCALES[language])


def council_name(council: Council, language: str) -> str:
    """A council's official name in the language."""
    return council.official_name_cy if language == "cy" else council.official_name_en


def council_short_name(council: Council, language: str) -> str:
    """A council's short name in the language (Denbighshire, Sir Ddinbych)."""
    return council.name_cy if language == "cy" else council.name_en


def report_file_name(stem: str, language: str, extension: str) -> str:
    """`<gss_code or national>.<language>.<html|pdf>`."""
    return f"{stem}.{language}.{extension}"


def other_language(language: str) -> str:
    """The report's other language (each version links to the other)."""
    return next(lang for lang in LANGUAGES if lang != language)


def response_rows(rates: pd.DataFrame, gss_code: str, language: str) -> list[dict[str, Any]]:
    """The reference report's response table: officers, elected members, total."""
    settings = load_settings()
    labels = {**settings.recipient_groups, TOTAL_GROUP: "Total"}
    council = rates[rates["gss_code"] == gss_code].set_index("recipient_group")
    rows = []
    for group, label in labels.items():
        invited = int(council.at[group, "invited"]) if group in council.index else 0
        responses = int(council.at[group, "responses"]) if group in council.index else 0
        rows.append(
            {
                "label": translate(language, label),
                "invited": format_number(invited, language, 0),
                "responses": format_number(responses, language, 0),
                "percent": format_whole_percent(whole_percent(responses, invited), language),
            }
        )
    return rows


def distribution_counts(published: AnswerTables, characteristic: str) -> list[int]:
    """How many councils are at each level on one characteristic, among the published levels only.

    A count over withheld levels would let a reader work a withheld council's level out of the rest.
    """
    levels = published.maturity_levels
    chosen = levels[
        (levels["characteristic"] == characteristic)
        & (levels["recipient_group"] == ALL_GROUPS)
        & (levels["gss_code"] != WALES_GSS_CODE)
    ]
    found = chosen["level"].dropna().astype(int)
    return [int((found == level).sum()) for level in LEVELS]


def format_share(row: pd.Series | None, language: str) -> dict[str, Any]:
    """A published % agree with its interval and base (n answering), for chart and table; a withheld
    figure is "[c]", as in the open data, and a missing one a dash."""
    withheld = row is not None and row["status"] != ""
    if row is None or withheld or pd.isna(row["pct_agree"]):
        marker = WITHHELD if withheld else NOT_AVAILABLE
        return {"shown": False, "withheld": withheld, "text": marker, "figure": marker, "n": marker}
    value, lower, upper = (float(row[c]) for c in ("pct_agree", "ci_lower", "ci_upper"))
    places = load_settings().publication.percent_decimals  # as published: already rounded to these
    interval = f"{format_number(lower, language, places)}{RANGE_DASH}{format_number(upper, language, places)}"
    figure = f"{format_number(value, language, places)}%"
    n = format_decimal(int(row["n_valid"]), format="#,##0", locale=BABEL_LOCALES[language])
    return {
        "shown": True,
        "withheld": False,
        "value": value,
        "lower": lower,
        "upper": upper,
        "text": f"{figure} ({interval})",
        "figure": figure,
        "n": n,
    }


# Statement charts: an axis from 0 to a round number just above the highest upper end shown, in steps of
# one of these (times a power of ten), with about AXIS_TICKS steps; never beyond 100%.
AXIS_STEPS = (1, 2, 2.5, 5)
AXIS_TICKS = 5
AXIS_MAX = 100
DIFFERENCE_MARK = "◆"  # a diamond beside a figure that differs clearly from the rest of Wales


def axis_ticks(highest: float) -> list[float]:
    """Round ticks from 0 to the smallest round maximum covering `highest` (a percentage), at most 100."""
    highest = min(highest, AXIS_MAX) if highest > 0 else AXIS_MAX
    magnitude = 10 ** math.floor(math.log10(highest / AXIS_TICKS))
    steps = [s * scale for scale in (magnitude, 10 * magnitude) for s in AXIS_STEPS]
    step = next(s for s in steps if s * AXIS_TICKS >= highest)
    count = math.ceil(highest / step - 1e-9)
    return [round(i * step, 6) for i in range(count + 1)]


def statement_axis(rows: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """The statement chart's labelled ticks: the axis covers every interval shown, council's and Wales's."""
    uppers = [row[place]["upper"] for row in rows for place in ("council", "wales") if row[place]["shown"]]
    ticks = axis_ticks(max(uppers, default=0.0))
    decimals = 0 if all(float(t).is_integer() for t in ticks) else 1
    return [{"value": t, "label": f"{format_number(t, language, decimals)}%"} for t in ticks]


def statement_rows(
    scores: Scores, tables: AnswerTables, gss_code: str, theme: str, language: str
) -> list[dict[str, Any]]:
    """% agree per statement in a theme for the council and Wales, as published, with the comparison."""
    published = tables.statement_results
    published = published[(published["recipient_group"] == ALL_GROUPS) & (published["theme"] == theme)]
    by_place = published.set_index(["gss_code", "statement_id"])
    rows = []
    statements = [s for s in load_settings().statements if s.theme == theme]
    for number, statement in enumerate(statements, start=1):
        council_row = (
            by_place.loc[(gss_code, statement.id)] if (gss_code, statement.id) in by_place.index else None
        )
        wales_key = (WALES_GSS_CODE, statement.id)
        wales_row = by_place.loc[wales_key] if wales_key in by_place.index else None
        council, wales = format_share(council_row, language), format_share(wales_row, language)
        differs = council_row["differs_from_rest_of_wales"] if council_row is not None else pd.NA
        flagged = bool(differs) if pd.notna(differs) and council["shown"] and wales["shown"] else False
        if (
            not council["shown"] or not wales["shown"] or pd.isna(differs)
        ):  # it would reveal a withheld figure
            comparison = NOT_AVAILABLE
        elif flagged and council["value"] > float(wales_row["pct_agree"]):
            comparison = translate(language, "Higher than Wales")
        elif flagged:
            comparison = translate(language, "Lower than Wales")
        else:
            comparison = translate(language, "No clear difference")
        rows.append(
            {
                "label": f"S{number}",
                "short": translate(language, statement.short_en),
                "text": translate(language, statement.text_en),
                "direction": "" if statement.higher_is_better else translate(language, "lower is better"),
                "council": council,
                "wales": wales,
                "comparison": comparison,
                "flagged": flagged,
            }
        )
    return rows


def statements_description(rows: list[dict[str, Any]], council: str, language: str) -> str:
    """The statement chart's text alternative: each statement's figures, bases, direction and comparison."""
    parts = []
    for row in rows:
        direction = f" ({row['direction']})" if row["direction"] else ""
        figures = "; ".join(
            translate(language, "{place}: {figure}, n = {n}").format(
                place=place, figure=row[key]["text"], n=row[key]["n"]
            )
            for place, key in ((council, "council"), (translate(language, "Wales"), "wales"))
        )
        parts.append(f"{row['label']} {row['short']}{direction}: {figures}; {row['comparison']}")
    return ". ".join(parts)


QUOTE_CANDIDATES_FILE = "quote_candidates.csv"


def approved_quotes(study: Study) -> frozenset[str]:
    """The quote hashes the study folder's quotes_approved.yaml approves (see docs/inputs.md)."""
    path = study.root / QUOTES_APPROVED_FILE
    stat = path.stat() if path.is_file() else None
    version = (stat.st_mtime_ns, stat.st_size) if stat else None
    try:
        return _approved_quotes(study.root, version)
    except ValueError as error:
        raise DatasetError(str(error)) from None


@cache
def _approved_quotes(root: Path, version: tuple[int, int] | None) -> frozenset[str]:
    return read_approved_quotes(root)  # read once per version of the file, not once per page


def quote_candidates(scores: Scores, approved: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Every chosen redacted quote, keyed by its hash, with whether it is approved: for the auditor."""
    comments = scores.comment_themes
    chosen = comments[comments["quote_rank"].notna()].sort_values(["gss_code", "theme", "quote_rank"])
    hashes = chosen["comment_redacted"].map(quote_hash)
    return pd.DataFrame(
        {
            "quote_hash": hashes,
            "gss_code": chosen["gss_code"],
            "theme": chosen["theme"],
            "report_theme": chosen["theme"].map(quote_rules().report_themes),
            "quote_rank": chosen["quote_rank"].astype("int64"),
            "approved": hashes.isin(approved),
            "quote": chosen["comment_redacted"],
        }
    ).reset_index(drop=True)


def write_quote_candidates(scores: Scores, study: Study, folder: Path) -> Path:
    """Write the candidate quotes to the run's restricted quality folder (OUT/quality/<run_id>/)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / QUOTE_CANDIDATES_FILE
    write_csv_for_people(quote_candidates(scores, approved_quotes(study)), path)
    return path


@task(name="write-quote-candidates", cache_policy=NONE)
def write_quote_candidates_task(scores: Scores, study: Study, folder: Path) -> Path:
    """Prefect wrapper: write the candidate quotes for the auditor to approve."""
    return write_quote_candidates(scores, study, folder)


def quote_rows(
    scores: Scores, gss_code: str, theme: str, draft: bool = False, approved: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The council's chosen redacted quotes for a theme, best first (escaped by the template).

    A final report shows only the quotes an auditor approved; a draft shows every candidate, those not
    yet approved marked as such with the hash that approves them.
    """
    rules = quote_rules()
    comments = scores.comment_themes
    chosen = comments[
        (comments["gss_code"] == gss_code)
        & (comments["theme"].map(rules.report_themes) == theme)
        & comments["quote_rank"].notna()
    ].sort_values(["quote_rank", "theme"], kind="stable")
    rows = []
    for text in chosen["comment_redacted"].drop_duplicates():
        key = quote_hash(str(text))
        if draft or key in approved:
            language = detect_language(str(text), rules)
            rows.append({"text": str(text), "hash": key, "approved": key in approved, "lang": language})
    return rows[:QUOTES_PER_THEME]


@cache
def quote_rules() -> ThemeRules:
    """The compiled quote rules: which report section each barrier theme's quotes go under, languages."""
    return build_theme_rules(load_comment_rules())


def public_rows(scores: Scores, language: str) -> list[dict[str, str]]:
    """Weighted national public-survey results: the question, % yes and the interval."""
    results = scores.public_survey_results.set_index("question_id")
    rows = []
    for question in load_settings().public_survey.questions:
        if question.id not in results.index:
            continue
        row = results.loc[question.id]
        wording = question.text_en
        lower = format_number(100 * row["ci_lower"], language, 0)
        upper = format_number(100 * row["ci_upper"], language, 0)
        rows.append(
            {
                "text": translate(language, wording),
                "share": f"{format_number(100 * row['share_yes'], language, 0)}%",
                "interval": f"{lower}%{RANGE_DASH}{upper}%",
            }
        )
    return rows


def public_people(scores: Scores, language: str) -> str:
    """How many people answered the public survey (the largest question base)."""
    return format_number(int(scores.public_survey_results["n_valid"].max()), language, 0)


def shown_maturity_cell(
    levels: pd.DataFrame, gss_code: str, characteristic: str
) -> tuple[pd.Series | None, str | None]:
    """The published figure a report shows: all respondents, else a group's own (officers first).

    Where the elected members are too few to publish, the council's combined figure is withheld with
    them; the officers' figure, published in full, is the best the council can be told.
    """
    rows = levels[(levels["gss_code"] == gss_code) & (levels["characteristic"] == characteristic)]
    by_group = rows.set_index("recipient_group")
    # Then each group's own figure, in config/tools.yaml's order (officers first).
    for group in (ALL_GROUPS, *load_settings().recipient_groups):
        if (
            group in by_group.index
            and by_group.at[group, "status"] == ""
            and pd.notna(by_group.at[group, "level"])
        ):
            return by_group.loc[group], (None if group == ALL_GROUPS else group)
    return None, None


def theme_sections(
    scores: Scores,
    published: AnswerTables,
    gss_code: str,
    language: str,
    draft: bool = False,
    approved: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """Per theme: the council's level per characteristic beside the national spread, statements, quotes."""
    settings = load_settings()
    council = settings.council_by_code[gss_code]
    short = council_short_name(council, language)
    levels = published.maturity_levels
    combined = levels[(levels["gss_code"] == gss_code) & (levels["recipient_group"] == ALL_GROUPS)].set_index(
        "characteristic"
    )
    sections = []
    for theme in settings.themes:
        rows = []
        for characteristic in (c for c in settings.characteristics if c.theme == theme.id):
            cell, group = shown_maturity_cell(levels, gss_code, characteristic.id)
            found = cell is not None
            withheld = not found and characteristic.id in combined.index
            level = int(cell["level"]) if found and pd.notna(cell["level"]) else None
            rows.append(
                {
                    "name": translate(language, characteristic.name_en),
                    "council_level": level,
                    "withheld": withheld,
                    "group": group,
                    "mean": format_mean_level(cell["mean_level"], language) if found else NOT_AVAILABLE,
                    "ci_lower": format_number(cell["ci_lower"], language) if found else NOT_AVAILABLE,
                    "ci_upper": format_number(cell["ci_upper"], language) if found else NOT_AVAILABLE,
                    "low_base": bool(cell["low_base"]) if found and pd.notna(cell["low_base"]) else False,
                    "descriptor": translate(language, characteristic.levels[level]) if level else "",
                    "counts": distribution_counts(published, characteristic.id),
                }
            )
        name = translate(language, theme.name_en)
        described = "; ".join(
            translate(
                language, "{name}: {council} at level {level}; councils at levels 1, 2, 3: {counts}"
            ).format(
                name=row["name"],
                council=short,
                level=row["council_level"] or (WITHHELD if row["withheld"] else NOT_AVAILABLE),
                counts=", ".join(str(count) for count in row["counts"]),
            )
            for row in rows
        )
        statements = statement_rows(scores, published, gss_code, theme.id, language)
        sections.append(
            {
                "id": theme.id,
                "name": name,
                "rows": rows,
                "chart_title": translate(language, "{theme}: levels across Wales' 22 councils").format(
                    theme=name
                ),
                "chart_description": described
                + ". "
                + translate(language, "The council's level is outlined."),
                "statements": statements,
                "statements_title": translate(language, "{theme}: % agreeing, {council} and Wales").format(
                    theme=name, council=short
                ),
                "statements_axis": statement_axis(statements, language),
                "statements_description": statements_description(statements, short, language),
                "quotes": quote_rows(scores, gss_code, theme.id, draft, approved),
            }
        )
    return sections


def shared_context(scores: Scores, study: Study, draft: bool, language: str, stem: str) -> dict[str, Any]:
    """What every report shows: language and its links, prose, status, wave, dates and the framework."""
    other = other_language(language)
    return {
        "lang": language,
        "other_lang": other,
        "other_href": report_file_name(stem, other, "html"),
        "other_language_name": LANGUAGE_NAMES[other],
        "text": report_text(language),
        "draft": draft,
        "wave": scores.wave,
        "study_title": study.title,
        "fieldwork_start": format_long_date(study.fieldwork_start, language),
        "fieldwork_end": format_long_date(study.fieldwork_end, language),
        "levels": LEVELS,
        "level_symbols": LEVEL_SYMBOLS,
        "difference_mark": DIFFERENCE_MARK,
        "council_count": len(load_settings().councils),
        "characteristics": [
            {
                "name": translate(language, c.name_en),
                "levels": {level: translate(language, text) for level, text in c.levels.items()},
            }
            for c in load_settings().characteristics
        ],
        "public_rows": public_rows(scores, language),
        "public_people": public_people(scores, language),
    }


def council_context(
    scores: Scores,
    study: Study,
    gss_code: str,
    draft: bool,
    language: str = SOURCE_LANGUAGE,
    published: AnswerTables | None = None,
) -> dict[str, Any]:
    """Everything the council template shows, as plain values (published: open_answer_tables)."""
    council = load_settings().council_by_code[gss_code]
    published = open_answer_tables(scores, None) if published is None else published
    themes = theme_sections(scores, published, gss_code, language, draft, approved_quotes(study))
    return {
        **shared_context(scores, study, draft, language, gss_code),
        "council_name": council_name(council, language),
        "council_short": council_short_name(council, language),
        "response_rows": response_rows(scores.response_rates, gss_code, language),
        "themes": themes,
        "public_theme": PUBLIC_SURVEY_THEME,
        "any_low_base": any(row["low_base"] for theme in themes for row in theme["rows"]),
    }


def national_context(
    scores: Scores,
    study: Study,
    draft: bool,
    language: str = SOURCE_LANGUAGE,
    published: AnswerTables | None = None,
) -> dict[str, Any]:
    """Everything the national template shows: heatmap, level spread, response rates, statements, survey."""
    settings = load_settings()
    published = open_answer_tables(scores, None) if published is None else published
    tables = published.maturity_levels
    combined = tables[tables["recipient_group"] == ALL_GROUPS].set_index(["gss_code", "characteristic"])
    levels, low_bases = combined["level"], combined["low_base"]
    rates = scores.response_rates.set_index(["gss_code", "recipient_group"])
    councils = sorted(settings.councils, key=lambda c: council_short_name(c, language))

    def level_of(gss: str, characteristic: str) -> int | None:
        value = levels.get((gss, characteristic))
        return int(value) if value is not None and pd.notna(value) else None

    def heatmap_cell(gss: str, characteristic: str) -> dict[str, Any]:
        """A published level, and whether it rests on a low base (a withheld level has no mark)."""
        level = level_of(gss, characteristic)
        low_base = low_bases.get((gss, characteristic))
        marked = level is not None and low_base is not None and pd.notna(low_base) and bool(low_base)
        return {"level": level, "low_base": marked}

    def percent(gss: str, group: str) -> str:
        if (gss, group) not in rates.index:
            return NOT_AVAILABLE
        share = whole_percent(
            int(rates.at[(gss, group), "responses"]), int(rates.at[(gss, group), "invited"])
        )
        return format_whole_percent(share, language)

    def invited(gss: str, group: str) -> str:
        count = int(rates.at[(gss, group), "invited"]) if (gss, group) in rates.index else 0
        return format_number(count, language, 0)

    distribution = [
        {
            "name": translate(language, ch.name_en),
            "counts": distribution_counts(published, ch.id),
            "council_level": None,
        }
        for ch in settings.characteristics
    ]
    statements = published.statement_results
    wales = statements[
        (statements["gss_code"] == WALES_GSS_CODE) & (statements["recipient_group"] == ALL_GROUPS)
    ].set_index("statement_id")
    return {
        **shared_context(scores, study, draft, language, "national"),
        "heatmap": [
            {
                "href": report_file_name(c.gss_code, language, "html"),
                "name": council_short_name(c, language),
                "cells": [heatmap_cell(c.gss_code, ch.id) for ch in settings.characteristics],
            }
            for c in councils
        ],
        "heatmap_low_base": any(
            cell["low_base"]
            for c in councils
            for cell in (heatmap_cell(c.gss_code, ch.id) for ch in settings.characteristics)
        ),
        "distribution": distribution,
        "distribution_title": translate(language, "Councils at each level, by characteristic"),
        "distribution_description": "; ".join(
            translate(language, "{name}: councils at levels 1, 2, 3: {counts}").format(
                name=row["name"], counts=", ".join(str(count) for count in row["counts"])
            )
            for row in distribution
        ),
        "response_table": [
            {
                "name": council_short_name(c, language),
                "groups": [
                    {"invited": invited(c.gss_code, group), "percent": percent(c.gss_code, group)}
                    for group in settings.recipient_groups
                ],
                "total_percent": percent(c.gss_code, TOTAL_GROUP),
            }
            for c in councils
        ],
        "wales_statements": [
            {
                "text": translate(language, s.text_en),
                "wales": format_share(wales.loc[s.id] if s.id in wales.index else None, language),
            }
            for s in settings.statements
        ],
    }


NATIONAL_STEM = "national"  # the national report's file stem; council reports use the GSS code


@dataclass(frozen=True)
class ReportInputs:
    """What every report page is rendered from: the scores, the study and the disclosed statements."""

    scores: Scores
    study: Study
    draft: bool
    published: AnswerTables  # open_answer_tables: disclosure control once, the same as the release


@dataclass(frozen=True)
class Report:
    """One report to render, in every language: a council's (stem = GSS code) or the national one."""

    stem: str
    folder: Path

    def path(self, language: str) -> Path:
        """Where the report's HTML in one language goes."""
        return self.folder / report_file_name(self.stem, language, "html")


REPORT_TEMPLATES = ("council.html.j2", "national.html.j2")


def prepare_templates() -> None:
    """Compile the templates and load the report text once, before reports render in parallel threads."""
    for language in LANGUAGES:
        report_text(language)
        for name in REPORT_TEMPLATES:
            template_environment(language).get_template(name)


def render_page(inputs: ReportInputs, stem: str, language: str) -> str:
    """One report page as HTML text."""
    environment = template_environment(language)
    scores, study, draft, published = inputs.scores, inputs.study, inputs.draft, inputs.published
    if stem == NATIONAL_STEM:
        context = national_context(scores, study, draft, language, published)
        return environment.get_template("national.html.j2").render(context)
    context = council_context(scores, study, stem, draft, language, published)
    return environment.get_template("council.html.j2").render(context)


def plan_reports(version: Path, wave: str, councils: list[str] | None = None) -> list[Report]:
    """The reports to render into the version: every council's (clearing old ones) or only those named."""
    target = inside(version, "reports", wave)
    if councils is None:
        remove_tree(target, version)
        councils = [c.gss_code for c in load_settings().councils]
    return [Report(stem, target) for stem in [*councils, NATIONAL_STEM]]


def write_report(inputs: ReportInputs, report: Report) -> list[Path]:
    """Render one report in every language and write each page in place of any older, different one.

    A page whose text is unchanged keeps its file (shared with the previous version by a hard link), so
    a rerun, which renders every report, rewrites only those whose figures moved.
    """
    for language in LANGUAGES:
        path = report.path(language)
        content = render_page(inputs, report.stem, language).encode("utf-8")
        if not (path.is_file() and path.read_bytes() == content):
            replace_file(path, content)
    return [report.path(language) for language in LANGUAGES]


def print_pdfs(html_paths: list[Path], workers: int | None = None) -> list[Path]:
    """Print reports to PDF beside their HTML, in one process per core unless told otherwise.

    WeasyPrint is the optional pdf extra: without it, one line before any worker starts (each would fail
    on its own, with a traceback).
    """
    require_extra("pdf")
    workers = min(workers or os.cpu_count() or 1, len(html_paths))
    sources = [str(path) for path in html_paths]
    if workers <= 1:
        printed = [print_pdf_bytes(source) for source in sources]
    else:
        context = multiprocessing.get_context("spawn")  # the caller may run threads (Prefect): never fork
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            printed = list(pool.map(print_pdf_bytes, sources))
    pdf_paths = [path.with_suffix(".pdf") for path in html_paths]
    for pdf_path, content in zip(pdf_paths, printed, strict=True):
        replace_file(pdf_path, content)  # by rename, never in place: versions share files via hard links
    return pdf_paths


def finish_reports(written: list[list[Path]], pdf: bool) -> list[Path]:
    """Print PDFs if asked (or where an older PDF exists) and list every report file written."""
    html_paths = [path for paths in written for path in paths]
    # A PDF left from an earlier run is reprinted too, so a rerun never leaves a PDF older than its HTML.
    to_print = [path for path in html_paths if pdf or path.with_suffix(".pdf").exists()]
    if to_print and not is_installed("pdf"):  # named as whatever asked for the PDFs
        require_extra("pdf", advise(EXTRAS["pdf"].option, "report_pdf") if pdf else REPRINT)
    pdf_paths = print_pdfs(to_print) if to_print else []
    return sorted(html_paths + pdf_paths)


def render_reports(
    scores: Scores,
    study: Study,
    version: Path,
    councils: list[str] | None = None,
    draft: bool = True,
    pdf: bool = False,
) -> list[Path]:
    """Render the national report and each council's report (all, or only those named) into the version.

    Every report is written in English and Welsh as HTML and, when pdf is True, as PDF: the same steps
    the pipeline takes (prepare_reports, write_report_batch, finish_reports), here in one batch.
    """
    inputs, batches = prepare_reports(scores, study, version, councils, "draft" if draft else "final")
    return finish_reports([write_report_batch(batch, inputs) for batch in batches], pdf)


def batch_reports(reports: list[Report], batches: int) -> list[list[Report]]:
    """Reports split into at most `batches` runs of neighbours, one task each."""
    count = max(1, min(batches, len(reports)))
    size, extra = divmod(len(reports), count)
    bounds = [i * size + min(i, extra) for i in range(count + 1)]
    return [reports[start:end] for start, end in pairwise(bounds) if end > start]


def name_report_batch() -> str:
    """Task run name for a batch of reports: render-<first>, or render-<first>-to-<last>."""
    reports = task_run.parameters["reports"]
    first, last = reports[0].stem, reports[-1].stem
    return f"render-{first}" if first == last else f"render-{first}-to-{last}"


def prepare_reports(
    scores: Scores,
    study: Study,
    version: Path,
    councils: list[str] | None = None,
    status: str = "draft",
    batches: int = 1,
    answers: AnswerTables | None = None,
) -> tuple[ReportInputs, list[list[Report]]]:
    """What every report is rendered from (draft or final), and the batches to render them in.

    One batch per worker that can render at once: threads share one interpreter lock, so under them a
    single task renders all, while a process pool or Dask cluster gets one batch per worker.
    """
    if status not in STATUSES:
        raise ValueError(f"report status must be one of {', '.join(STATUSES)}, not {status!r}")
    prepare_templates()  # threads share this process's caches; a worker process fills its own
    answers = open_answer_tables(scores, version) if answers is None else answers
    inputs = ReportInputs(scores, study, status == "draft", answers)
    return inputs, batch_reports(plan_reports(version, scores.wave, councils), batches)


def write_report_batch(reports: list[Report], inputs: ReportInputs) -> list[Path]:
    """Render and write a batch of reports, in English and Welsh."""
    return [path for report in reports for path in write_report(inputs, report)]


# The plain function is the task: nothing to add around it.
plan_reports_task = task(name="plan-reports", cache_policy=NONE)(prepare_reports)


@task(name="render-reports", task_run_name=name_report_batch, cache_policy=NONE)
def render_report_task(reports: list[Report], inputs: ReportInputs) -> list[Path]:
    """Prefect wrapper: render and write a batch of reports, in English and Welsh."""
    return write_report_batch(reports, inputs)


@task(name="finish-reports", cache_policy=NONE)
def finish_reports_task(written: list[list[Path]], pdf: bool) -> list[Path]:
    """Prefect wrapper: print PDFs if asked and list the report files."""
    return finish_reports(written, pdf)
