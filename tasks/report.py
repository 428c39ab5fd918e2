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
from maturity.comparability import comparison_for
from maturity.extras import EXTRAS, is_installed, require_extra
from maturity.findings import (
    CONSENSUS,
    COUNT,
    LEVEL,
    LEVEL_GAP,
    MEAN_LEVEL,
    P_VALUE,
    PCT_AGREE,
    PERCENT,
    POINTS,
    PROBABILITY,
    Finding,
    PublishedFigures,
    Row,
    ShownCell,
    choose_strengths_and_priorities,
    council_findings,
    index_published,
    national_priorities,
    pick_shown_row,
    priority_order,
    prompted_steps,
    shown_cells,
)
from maturity.rounding import round_number, whole_percent
from maturity.settings import (
    ALL_GROUPS,
    TEMPLATES_DIR,
    TOTAL_GROUP,
    WALES_GSS_CODE,
    Council,
    load_comment_rules,
    load_open_data_config,
    load_publication_config,
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
from tasks.change_report import council_change, national_change
from tasks.commentary import council_commentary
from tasks.contracts import DatasetError, Study, write_csv_for_people
from tasks.pdf import print_pdf_bytes
from tasks.publish import (
    AnswerTables,
    open_answer_tables,
    open_perception_gaps,
    plan_release,
)
from tasks.release import (
    CSVW_METADATA,
    DATAPACKAGE,
    README,
    csv_name,
)
from tasks.report_words import (
    BABEL_LOCALES,
    NOT_AVAILABLE,
    as_noun,
    format_mean_level,
    format_number,
    join_names,
    mutate_after,
    report_content,
    translate,
)
from tasks.score import LEVELS, Scores
from warehouse.store import replace_file
from warehouse.versions import inside, remove_tree

STATUSES = ("draft", "final")
LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}
# Quotes shown per theme, best first (quote_rank 1 is the chosen lead quote).
QUOTES_PER_THEME = 3
# The theme whose section carries the national public-survey figures, as in the reference report.
PUBLIC_SURVEY_THEME = "data_protection"
# Printed beside each count in charts so a level can be told without colour or pattern.
LEVEL_SYMBOLS = {1: "①", 2: "②", 3: "③"}
# What asks for PDFs when --pdf (report_pdf) was not given: those an earlier run printed, kept up to date.
REPRINT = "Reprinting the PDF reports an earlier run left"
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


@cache
def report_text(language: str) -> dict[str, Any]:
    """Report prose in one language: content.en.yaml translated through the language's catalogue."""
    return translate_tree(load_report_prose(), load_translations(language).gettext)


# Report content kept in one file per language (not gettext): findings and next steps.
CONTENT_FILES = ("findings", "next_steps", "change")
# Strengths and priorities the summary names, each.
SUMMARY_PICKS = 3


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
                "group": group,
                "label": translate(language, label),
                "invited": format_decimal(invited, format="#,##0", locale=BABEL_LOCALES[language]),
                "responses": format_decimal(responses, format="#,##0", locale=BABEL_LOCALES[language]),
                "percent": format_whole_percent(whole_percent(responses, invited), language),
            }
        )
    return rows


def format_share(row: Row | None, language: str) -> dict[str, Any]:
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
    figures: PublishedFigures, wave: str, gss_code: str, theme: str, language: str
) -> list[dict[str, Any]]:
    """% agree per statement in a theme for the council and Wales, as published, with the comparison."""
    council_rows, wales_rows = (
        figures.place("statements", gss_code),
        figures.place("statements", WALES_GSS_CODE),
    )
    rows = []
    statements = [s for s in load_settings().statements_in(wave) if s.theme == theme]
    whose = {
        "officers": translate(language, "officers only"),
        "elected_members": translate(language, "elected members only"),
    }
    for number, statement in enumerate(statements, start=1):
        # The combined figure, else a group's own beside the same group's for Wales (as for levels).
        shown, group = pick_shown_row(council_rows, statement.id, PCT_AGREE)
        council_row = shown if shown is not None else council_rows.get((statement.id, ALL_GROUPS))
        wales_row = wales_rows.get((statement.id, group or ALL_GROUPS))
        council, wales = format_share(council_row, language), format_share(wales_row, language)
        differs = council_row["differs_from_rest_of_wales"] if council_row is not None else pd.NA
        flagged = bool(differs) if pd.notna(differs) and council["shown"] and wales["shown"] else False
        higher, lower = (  # where agreeing is a bad sign, the comparison says which way is better
            (translate(language, "Higher than Wales"), translate(language, "Lower than Wales"))
            if statement.higher_is_better
            else (
                translate(language, "Higher than Wales (worse)"),
                translate(language, "Lower than Wales (better)"),
            )
        )
        if (
            not council["shown"] or not wales["shown"] or pd.isna(differs)
        ):  # it would reveal a withheld figure
            comparison = NOT_AVAILABLE
        elif flagged and council["value"] > float(wales_row["pct_agree"]):
            comparison = higher
        elif flagged:
            comparison = lower
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
                "group": f"({whose[group]})" if group else "",
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
                place=f"{place} {row['group']}".rstrip(), figure=row[key]["text"], n=row[key]["n"]
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
    hashes = pd.Series(
        [
            quote_hash(str(g), str(t))
            for g, t in zip(chosen["gss_code"], chosen["comment_redacted"], strict=True)
        ],
        index=chosen.index,
        dtype=str,
    )
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


QuoteIndex = dict[tuple[str, str], list[str]]  # (gss_code, report theme) -> chosen quotes, best first


def index_quotes(scores: Scores) -> QuoteIndex:
    """Every council's chosen redacted quotes per report theme, best first: indexed once for every page."""
    rules = quote_rules()
    comments = scores.comment_themes
    chosen = comments[comments["quote_rank"].notna()].sort_values(["quote_rank", "theme"], kind="stable")
    report_themes = chosen["theme"].map(rules.report_themes)
    quotes: QuoteIndex = {}
    for gss_code, theme, text in zip(
        chosen["gss_code"], report_themes, chosen["comment_redacted"], strict=True
    ):
        texts = quotes.setdefault((str(gss_code), str(theme)), [])
        if str(text) not in texts:
            texts.append(str(text))
    return quotes


def quote_rows(
    quotes: QuoteIndex, gss_code: str, theme: str, draft: bool = False, approved: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The council's chosen redacted quotes for a theme, best first (escaped by the template).

    A final report shows only the quotes an auditor approved; a draft shows every candidate, those not
    yet approved marked as such with the hash that approves them.
    """
    rules = quote_rules()
    rows = []
    for text in quotes.get((gss_code, theme), []):
        key = quote_hash(gss_code, text)
        if draft or key in approved:
            rows.append(
                {"text": text, "hash": key, "approved": key in approved, "lang": detect_language(text, rules)}
            )
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


PERCENT_WHOLE = 100  # a probability of 1 in percent


def format_figure(kind: str, value: float, language: str) -> str:
    """A figure a finding cites, printed as the open data prints it."""
    rules = load_settings().publication
    if kind == MEAN_LEVEL:
        return format_mean_level(value, language)
    if kind in (LEVEL_GAP, CONSENSUS):
        return format_number(value, language)
    if kind == PERCENT:
        return f"{format_number(value, language, rules.percent_decimals)}%"
    if kind == POINTS:
        return format_number(value, language, rules.percent_decimals)
    if kind == PROBABILITY:  # a share of posterior draws: never "100%" or "0%", which would overclaim
        summary = report_content("findings", language)["summary"]
        whole = int(round_number(100 * value, 0))
        if whole >= PERCENT_WHOLE:
            return summary["probability_above"].format(
                percent=format_whole_percent(PERCENT_WHOLE - 1, language)
            )
        if whole <= 0:
            return summary["probability_below"].format(percent=format_whole_percent(1, language))
        return format_whole_percent(whole, language)
    if kind == P_VALUE:
        smallest = 10.0**-rules.p_value_decimals
        if value < smallest:  # "p < 0.0001": the sentences cite it whole
            return f"p < {format_number(smallest, language, rules.p_value_decimals)}"
        return f"p = {format_number(value, language, rules.p_value_decimals)}"
    if kind == COUNT:
        return format_number(value, language, 0 if float(value).is_integer() else rules.base_decimals)
    if kind == LEVEL:
        return str(int(value))
    raise ValueError(f"unknown figure kind {kind!r}")


def name_in_sentence(template: str, placeholder: str, name: str) -> str:
    """A name as it reads in the sentence: lower case first letter unless the sentence starts with it,
    and in Welsh mutated where the word before it calls for that (mutate_after)."""
    if template.startswith("{" + placeholder + "}"):
        return name
    return mutate_after(template, placeholder, as_noun(name))


def item_names(item: str, language: str) -> dict[str, str]:
    """The translated characteristic or statement a finding is about."""
    settings = load_settings()
    for characteristic in settings.characteristics:
        if characteristic.id == item:
            return {"characteristic": translate(language, characteristic.name_en)}
    statement = next(s for s in settings.statements if s.id == item)
    return {"statement": translate(language, statement.text_en).rstrip(".")}


def finding_sentence(finding: Finding, language: str) -> str:
    """One finding in words, every figure formatted as published."""
    content = report_content("findings", language)
    template = content["rules"][finding.rule]
    names = item_names(finding.item, language)
    if "characteristic" in names:  # a statement is quoted as written; a characteristic reads as a noun
        names["characteristic"] = name_in_sentence(template, "characteristic", names["characteristic"])
    figures = {name: format_figure(kind, value, language) for name, (kind, value) in finding.figures.items()}
    who = {
        "who": name_in_sentence(template, "who", content["who"][finding.group]),
        "whose": content["whose"][finding.group],
        "people": content["people"][finding.group],
    }
    sentence = template.format(**names, **figures, **who)
    statement = next((st for st in load_settings().statements if st.id == finding.item), None)
    if finding.rule in STATEMENT_RULES and statement is not None and not statement.higher_is_better:
        sentence = f"{sentence} {content['lower_is_better']}"
    return sentence


STATEMENT_RULES = ("statement_higher", "statement_lower")
# Findings that say whose figure is shown rather than what it shows: one sentence per theme lists them.
NOTE_RULES = ("one_group_only", "withheld")
# Where nothing is clear, the theme's largest difference from Wales, said to be unclear (after "none").
LEAN_RULES = ("leans_above_wales", "leans_below_wales")


def note_sentences(findings: list[Finding], language: str) -> list[str]:
    """One sentence per kind of note (withheld, one group only), listing the characteristics it covers."""
    content = report_content("findings", language)
    groups = list(load_settings().recipient_groups)
    sentences = []
    for rule in NOTE_RULES:
        for group in dict.fromkeys(f.group for f in findings if f.rule == rule):
            chosen = [f for f in findings if f.rule == rule and f.group == group]
            names = [item_names(f.item, language)["characteristic"] for f in chosen]
            template = content["notes"][rule]
            starts = template.startswith("{characteristics}")
            listed = join_names([n if starts else as_noun(n) for n in names], language)
            listed = listed if starts else mutate_after(template, "characteristics", listed)  # the first only
            missing = next((g for g in groups if g != group), group)
            sentences.append(
                template.format(
                    characteristics=listed, whose=content["whose"][group], missing=content["missing"][missing]
                )
            )
    return sentences


def theme_sentences(findings: list[Finding], language: str) -> dict[str, list[str]]:
    """A theme's findings in words: what the figures show, and notes on whose figures are shown."""
    return {
        "shown": [
            finding_sentence(f, language) for f in findings if f.rule not in (*NOTE_RULES, *LEAN_RULES)
        ],
        "leans": [finding_sentence(f, language) for f in findings if f.rule in LEAN_RULES],
        "notes": note_sentences([f for f in findings if f.rule in NOTE_RULES], language),
    }


def between_levels(row: Row, language: str) -> str:
    """The summary's "Between levels 1 and 2" where the interval leaves the level uncertain, else ""."""
    low, high = int(row["likely_level_low"]), int(row["likely_level_high"])
    if low == high:
        return ""
    return report_content("findings", language)["summary"]["between"].format(low=low, high=high)


def level_wording(cell: ShownCell, language: str) -> dict[str, str]:
    """A shown cell's level in words: the level, or "between" two levels with the chance of the mean's."""
    summary = report_content("findings", language)["summary"]
    row = cell.row
    low, high = int(row["likely_level_low"]), int(row["likely_level_high"])
    chance = format_figure(PROBABILITY, float(row[f"p_level_{cell.level}"]), language)
    if low == high:
        text = summary["level"].format(level=cell.level)
    else:
        text = summary["between"].format(low=low, high=high)
    return {"text": text, "chance": summary["chance"].format(probability=chance, level=cell.level)}


def pick_sentence(cell: ShownCell, language: str, kind: str) -> str:
    """A strength or priority in one line, citing the council's and Wales's mean levels."""
    summary = report_content("findings", language)["summary"]
    toward = 1 if kind == "strength" else -1  # the direction that suits the pick: above Wales for a strength
    lead = round_number(toward * cell.difference, load_settings().publication.level_decimals)
    if cell.differs and lead > 0:
        template = summary[f"{kind}_clear"]
    elif lead < 0:  # on the other side of Wales, by a margin that is not clear
        template = summary["strength_relative_below" if kind == "strength" else "priority_relative_above"]
    else:
        template = summary[f"{kind}_relative"]
    wales = float(cell.wales["mean_level"]) if cell.wales is not None else float("nan")
    name = translate(language, load_settings().characteristic_by_id[cell.characteristic].name_en)
    if cell.group != ALL_GROUPS:  # one group's own figure, beside the same group's Wales figure
        name = f"{name} ({report_content('findings', language)['whose'][cell.group]})"
    return template.format(
        characteristic=name,
        level=cell.level,
        mean=format_mean_level(float(cell.row["mean_level"]), language),
        wales_mean=format_mean_level(wales, language),
    )


def publish_figures(scores: Scores, published: AnswerTables) -> PublishedFigures:
    """The release's maturity, statement and perception-gap figures indexed once for every page."""
    gaps = open_perception_gaps(scores, published)
    return index_published(published.maturity_levels, published.statement_results, gaps)


def wales_mean(
    wales: dict[tuple[str, str], dict[str, Any]], cell: ShownCell | None, characteristic: str, language: str
) -> str:
    """The published Wales mean level to set beside the council's: the same group's as its shown figure."""
    row = cell.wales if cell is not None else wales.get((characteristic, ALL_GROUPS))
    return format_mean_level(row["mean_level"], language) if row else NOT_AVAILABLE


def summary_section(
    figures: PublishedFigures, rates: pd.DataFrame, gss_code: str, language: str
) -> dict[str, Any]:
    """The first page: each characteristic's level against the Wales spread, responses, picks."""
    settings = load_settings()
    summary = report_content("findings", language)["summary"]
    whose = report_content("findings", language)["whose"]
    cells = {cell.characteristic: cell for cell in shown_cells(figures, gss_code)}
    wales = figures.place("maturity", WALES_GSS_CODE)
    rows = []
    for characteristic in settings.characteristics:
        cell = cells.get(characteristic.id)
        wording = level_wording(cell, language) if cell else {"text": summary["withheld"], "chance": ""}
        group = cell.group if cell and cell.group != ALL_GROUPS else None
        rows.append(
            {
                "name": translate(language, characteristic.name_en),
                "level": cell.level if cell else None,
                "wording": wording,
                "group": summary["one_group"].format(whose=whose[group]) if group else "",
                "wales_mean": wales_mean(wales, cell, characteristic.id, language),
                "counts": figures.distribution[characteristic.id],
            }
        )
    strengths, priorities = choose_strengths_and_priorities(list(cells.values()), SUMMARY_PICKS)
    return {
        "rows": rows,
        "responses": response_summary(rates, gss_code, language),
        "strengths": [pick_sentence(cell, language, "strength") for cell in strengths],
        "priorities": [pick_sentence(cell, language, "priority") for cell in priorities],
        "fewer_strengths": len(strengths) < SUMMARY_PICKS,
        "fewer_priorities": len(priorities) < SUMMARY_PICKS,
    }


def response_summary(rates: pd.DataFrame, gss_code: str, language: str) -> str:
    """The council's response rates in one sentence (officers, members, overall)."""
    percents = {row["group"]: row["percent"] for row in response_rows(rates, gss_code, language)}
    summary = report_content("findings", language)["summary"]
    first, second = load_settings().maturity.perception_gap_groups
    return summary["responses"].format(
        officers=percents[first], members=percents[second], total=percents[TOTAL_GROUP]
    )


# Prompted steps about who answered rather than about one characteristic: given once, at the first.
ONCE_PER_REPORT = ("one_group_only",)


def few_answered(rates: pd.DataFrame, gss_code: str) -> set[str]:
    """The council's groups in which fewer people answered at all than a figure needs (published counts)."""
    mine = rates[rates["gss_code"] == gss_code].set_index("recipient_group")["responses"]
    threshold = load_settings().disclosure.min_valid_answers
    return {group for group in load_settings().recipient_groups if int(mine.get(group, 0)) < threshold}


# How many councils a "compare with" step names: those with the highest published figures.
PEERS_NAMED = 3


def leading_councils(figures: PublishedFigures, characteristic: str, gss_code: str, language: str) -> str:
    """The other councils with the highest shown figures on a characteristic, named for a next step."""
    settings = load_settings()
    shown = []
    for council in settings.councils:
        row, _ = pick_shown_row(figures.place("maturity", council.gss_code), characteristic)
        if council.gss_code != gss_code and row is not None:
            shown.append((-float(row["mean_level"]), council_short_name(council, language)))
    return join_names([name for _, name in sorted(shown)[:PEERS_NAMED]], language)


def prompted_actions(
    kinds: list[tuple[str, str]], name: str, said: set[str], few: set[str], peers: str, language: str
) -> list[str]:
    """The extra steps a characteristic's findings call for, in words (council-wide ones only once).

    few: the groups too few of whom answered (few_answered). A combined figure can also be withheld to
    protect other figures; then more answers from that group are not what the council needs.
    """
    findings = report_content("findings", language)
    groups = list(load_settings().recipient_groups)
    actions = []
    for kind, group in kinds:
        missing = next((g for g in groups if g != group), group)
        if kind in ONCE_PER_REPORT and (kind in said or missing not in few):
            continue
        said.add(kind)
        template = findings["next_steps"]["prompted"][kind]
        actions.append(
            template.format(
                characteristic=name_in_sentence(template, "characteristic", name),
                missing=findings["missing"][missing],
                peers=peers,
            )
        )
    return actions


def next_step_sections(
    figures: PublishedFigures,
    findings: dict[str, list[Finding]],
    rates: pd.DataFrame,
    gss_code: str,
    language: str,
) -> list[dict[str, Any]]:
    """Per characteristic, priorities first: the next level's description and the steps towards it."""
    settings = load_settings()
    content = report_content("findings", language)["next_steps"]
    steps = report_content("next_steps", language)
    cells = {cell.characteristic: cell for cell in shown_cells(figures, gss_code)}
    ordered = sorted(cells.values(), key=priority_order)
    missing = [c for c in settings.characteristics if c.id not in cells]
    prompted = prompted_steps(findings)
    said: set[str] = set()  # steps about the council as a whole (who answered) are given once
    few = few_answered(rates, gss_code)
    sections = []
    for characteristic, cell in [(settings.characteristic_by_id[c.characteristic], c) for c in ordered] + [
        (c, None) for c in missing
    ]:
        name = translate(language, characteristic.name_en)
        level = cell.level if cell else 1  # an unpublished level: steps from the start, said so
        following = min(level + 1, LEVELS[-1])
        if cell is None:
            heading = content["unknown"].format(characteristic=name)
        elif level == LEVELS[-1]:
            heading = content["sustain"].format(characteristic=name)
        else:
            heading = content["towards"].format(characteristic=name, level=level, next=following)
        sections.append(
            {
                "id": characteristic.id,
                "heading": heading,
                "next_label": content["next_level"].format(next=following) if level < LEVELS[-1] else "",
                "next_level": translate(language, characteristic.levels[following])
                if level < LEVELS[-1]
                else "",
                "prompted": prompted_actions(
                    prompted.get(characteristic.id, []),
                    name,
                    said,
                    few,
                    leading_councils(figures, characteristic.id, gss_code, language),
                    language,
                ),
                "actions": steps[characteristic.id][level],
            }
        )
    return sections


def national_recommendations(figures: PublishedFigures, language: str) -> list[dict[str, str]]:
    """Recommendations for all councils, where most councils are at level 1 first, with the counts."""
    settings = load_settings()
    content = report_content("findings", language)["national"]
    steps = report_content("next_steps", language)
    rows = []
    for characteristic_id, counts in national_priorities(figures):
        characteristic = settings.characteristic_by_id[characteristic_id]
        name = translate(language, characteristic.name_en)
        rows.append(
            {
                "name": name,
                "counts": content["counts"].format(
                    characteristic=name,
                    level_1=counts[0],
                    level_2=counts[1],
                    level_3=counts[2],
                    published=sum(counts),
                ),
                "recommendation": steps[characteristic_id]["national"],
            }
        )
    return rows


def count_own_levels(figures: PublishedFigures) -> int:
    """How many of the councils' shown levels are one group's own (the combined figure withheld)."""
    characteristics = load_settings().characteristics
    return sum(
        pick_shown_row(figures.place("maturity", council.gss_code), c.id)[1] is not None
        for council in load_settings().councils
        for c in characteristics
    )


def national_key_findings(figures: PublishedFigures, rates: pd.DataFrame, language: str) -> list[str]:
    """The national report's key findings: who answered, how levels split, where councils are weakest
    and strongest, and where none reaches level 3; each from published figures only."""
    settings = load_settings()
    content = report_content("findings", language)["national"]
    responses = {row["group"]: row for row in response_rows(rates, WALES_GSS_CODE, language)}
    first, second = settings.maturity.perception_gap_groups
    counts = {c.id: figures.distribution[c.id] for c in settings.characteristics}
    names = {c.id: translate(language, c.name_en) for c in settings.characteristics}
    split = [sum(per[level - 1] for per in counts.values()) for level in LEVELS]
    shown = {item: sum(per) for item, per in counts.items() if sum(per)}
    sentences = [
        content["key_responses"].format(
            responses=responses[TOTAL_GROUP]["responses"],
            invited=responses[TOTAL_GROUP]["invited"],
            percent=responses[TOTAL_GROUP]["percent"],
            officers=responses[first]["percent"],
            members=responses[second]["percent"],
        ),
        content["key_overall"].format(
            total=sum(split),
            level_1=split[0],
            level_2=split[1],
            level_3=split[2],
            own=count_own_levels(figures),
        ),
    ]
    if shown:
        weakest = max(shown, key=lambda item: counts[item][0] / shown[item])
        strongest = max(shown, key=lambda item: sum(counts[item][1:]) / shown[item])
        for key, item, count in (
            ("key_weakest", weakest, counts[weakest][0]),
            ("key_strongest", strongest, sum(counts[strongest][1:])),
        ):
            name = name_in_sentence(content[key], "characteristic", names[item])
            sentences.append(content[key].format(characteristic=name, count=count, published=shown[item]))
    none_at_3 = [as_noun(names[item]) for item in shown if counts[item][2] == 0]
    if none_at_3 and len(none_at_3) == len(counts):
        sentences.append(content["key_no_level_3_anywhere"])
    elif none_at_3:
        listed = mutate_after(content["key_no_level_3"], "characteristics", join_names(none_at_3, language))
        sentences.append(content["key_no_level_3"].format(characteristics=listed))
    return sentences


def gaps_compared(figures: PublishedFigures, gss_code: str, theme: str) -> bool:
    """Whether any officer-member gap on the theme's items is published, i.e. the two could be compared."""
    settings = load_settings()
    items = {c.id for c in settings.characteristics if c.theme == theme}
    items |= {st.id for st in settings.statements if st.theme == theme}
    return any(row["item_id"] in items for row in figures.gaps.get(gss_code, []))


def theme_sections(
    wave: str,
    quotes: QuoteIndex,
    gss_code: str,
    language: str,
    draft: bool,
    approved: frozenset[str],
    figures: PublishedFigures,
    findings: dict[str, list[Finding]],
    commentary: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Per theme: commentary, findings, levels beside the Wales spread, statements and quotes.

    figures: the release indexed for reports (publish_figures); findings: council_findings over it.
    commentary: the auditors' rendered commentary per theme id in this language (council_commentary).
    """
    settings = load_settings()
    council = settings.council_by_code[gss_code]
    short = council_short_name(council, language)
    council_rows = figures.place("maturity", gss_code)
    sections = []
    for theme in settings.themes:
        rows = []
        for characteristic in (c for c in settings.characteristics if c.theme == theme.id):
            cell, group = pick_shown_row(council_rows, characteristic.id)
            found = cell is not None
            withheld = not found and (characteristic.id, ALL_GROUPS) in council_rows
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
                    "counts": figures.distribution[characteristic.id],
                    "between": between_levels(cell, language) if level else "",
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
        statements = statement_rows(figures, wave, gss_code, theme.id, language)
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
                "quotes": quote_rows(quotes, gss_code, theme.id, draft, approved),
                "findings": theme_sentences(findings[theme.id], language),
                "gaps_compared": gaps_compared(figures, gss_code, theme.id),
                "commentary": (commentary or {}).get(theme.id),
            }
        )
    return sections


def study_title(study: Study, language: str) -> str:
    """The study's title in the language: study.yaml title_cy in Welsh, else the English title."""
    return study.title_cy if language == "cy" and study.title_cy else study.title


def publication_details(wave: str, language: str) -> dict[str, Any]:
    """Who publishes the reports, how to reach them, and when (config/publication.yaml, never the clock)."""
    config = load_publication_config()
    day = config.publication_dates.get(wave)
    return {
        "publisher": config.publisher_cy if language == "cy" else config.publisher_en,
        "contact_email": config.contact_email,
        "date": format_long_date(day, language) if day else None,
        "methodology_url": config.methodology_url,
    }


def open_data_href(wave: str, file_name: str = "") -> str:
    """A link from reports/<wave>/ to the wave's open-data release (OUT/open-data/<wave>/), relative."""
    return f"../../open-data/{wave}/{file_name}"


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
        "study_title": study_title(study, language),
        "publication": publication_details(scores.wave, language),
        "release": None,  # the open-data release version: set by render_page from ReportInputs
        "stem": stem,
        "national_href": report_file_name(NATIONAL_STEM, language, "html"),
        "index_href": INDEX_FILE,
        "open_data_href": open_data_href(scores.wave),
        "levels_csv_href": open_data_href(scores.wave, csv_name("maturity_levels")),
        "statements_csv_href": open_data_href(scores.wave, csv_name("statement_results")),
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
    figures: PublishedFigures | None = None,
    quotes: QuoteIndex | None = None,
) -> dict[str, Any]:
    """Everything the council template shows, as plain values (published: open_answer_tables).

    figures and quotes: the release and the chosen quotes indexed once for every page (made if absent).
    """
    council = load_settings().council_by_code[gss_code]
    published = open_answer_tables(scores, None) if published is None else published
    figures = publish_figures(scores, published) if figures is None else figures
    commentary = council_commentary(study, gss_code, language)
    approved = approved_quotes(study)
    findings = council_findings(figures, gss_code)  # once: the themes and the next steps both read them
    quotes = index_quotes(scores) if quotes is None else quotes
    themes = theme_sections(
        scores.wave, quotes, gss_code, language, draft, approved, figures, findings, commentary
    )
    return {
        **shared_context(scores, study, draft, language, gss_code),
        "council_name": council_name(council, language),
        "council_short": council_short_name(council, language),
        "response_rows": response_rows(scores.response_rates, gss_code, language),
        "summary": summary_section(figures, scores.response_rates, gss_code, language),
        "next_steps": next_step_sections(figures, findings, scores.response_rates, gss_code, language),
        "findings_text": report_content("findings", language),
        "themes": themes,
        **change_context(published, scores.wave, gss_code, council_short_name(council, language), language),
        "public_theme": PUBLIC_SURVEY_THEME,
        "any_low_base": any(row["low_base"] for theme in themes for row in theme["rows"]),
    }


def change_context(
    published: AnswerTables,
    wave: str,
    gss_code: str | None,
    council: str,
    language: str,
    councils: list[Council] | None = None,
) -> dict[str, Any]:
    """The change since the earlier wave for a council's page (gss_code) or the national one (councils)."""
    comparison = comparison_for(wave)
    if gss_code is not None:
        change = council_change(published.changes, comparison, gss_code, council, language)
    else:
        listed = [
            (c.gss_code, council_short_name(c, language), report_file_name(c.gss_code, language, "html"))
            for c in councils or []
        ]
        change = national_change(published.changes, comparison, listed, language)
    return {"change": change, "wave_earlier": comparison.earlier if comparison else None}


def national_context(
    scores: Scores,
    study: Study,
    draft: bool,
    language: str = SOURCE_LANGUAGE,
    published: AnswerTables | None = None,
    figures: PublishedFigures | None = None,
) -> dict[str, Any]:
    """Everything the national template shows: heatmap, level spread, response rates, statements, survey."""
    settings = load_settings()
    published = open_answer_tables(scores, None) if published is None else published
    figures = publish_figures(scores, published) if figures is None else figures
    rates = scores.response_rates.set_index(["gss_code", "recipient_group"])
    councils = sorted(settings.councils, key=lambda c: council_short_name(c, language))

    def heatmap_cell(gss: str, characteristic: str) -> dict[str, Any]:
        """The shown level (combined, else a group's own, marked), and whether it rests on a low base."""
        row, group = pick_shown_row(figures.place("maturity", gss), characteristic)
        if row is None:
            return {"level": None, "low_base": False, "group": None}
        low_base = row["low_base"]
        return {"level": int(row["level"]), "low_base": pd.notna(low_base) and bool(low_base), "group": group}

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

    heatmap = [
        {
            "href": report_file_name(c.gss_code, language, "html"),
            "name": council_short_name(c, language),
            "cells": [heatmap_cell(c.gss_code, ch.id) for ch in settings.characteristics],
        }
        for c in councils
    ]
    distribution = [
        {
            "name": translate(language, ch.name_en),
            "counts": figures.distribution[ch.id],
            "council_level": None,
        }
        for ch in settings.characteristics
    ]
    wales = figures.place("statements", WALES_GSS_CODE)
    return {
        **shared_context(scores, study, draft, language, "national"),
        "heatmap": heatmap,
        "heatmap_low_base": any(cell["low_base"] for row in heatmap for cell in row["cells"]),
        "heatmap_groups": {cell["group"] for row in heatmap for cell in row["cells"]} - {None},
        "distribution": distribution,
        **change_context(published, scores.wave, None, "", language, councils),
        "recommendations": national_recommendations(figures, language),
        "key_findings": national_key_findings(figures, scores.response_rates, language),
        "findings_text": report_content("findings", language),
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
                "wales": format_share(wales.get((s.id, ALL_GROUPS)), language),
            }
            for s in settings.statements_in(scores.wave)
        ],
    }


NATIONAL_STEM = "national"  # the national report's file stem; council reports use the GSS code
INDEX_FILE = "index.html"  # the site's front page in reports/<wave>/: every report, the open data
INDEX_TEMPLATE = "index.html.j2"
# The index page is bilingual, Welsh first (as Welsh public bodies set out bilingual pages).
INDEX_LANGUAGES = ("cy", "en")


@dataclass(frozen=True)
class ReportInputs:
    """What every report page is rendered from: the scores, the study and the disclosed statements."""

    scores: Scores
    study: Study
    draft: bool
    published: AnswerTables  # open_answer_tables: disclosure control once, the same as the release
    figures: PublishedFigures  # publish_figures: the same release indexed for every page's lookups
    quotes: QuoteIndex  # index_quotes: the chosen quotes, indexed once for every page
    # The open-data release these figures are published in (tasks.publish.plan_release); no run id: two
    # runs on the same inputs must give byte-identical pages (the run registry maps a page's sha256 to
    # the run that wrote it).
    release: str | None = None


@dataclass(frozen=True)
class Report:
    """One report to render, in every language: a council's (stem = GSS code) or the national one."""

    stem: str
    folder: Path

    def path(self, language: str) -> Path:
        """Where the report's HTML in one language goes."""
        return self.folder / report_file_name(self.stem, language, "html")


REPORT_TEMPLATES = ("council.html.j2", "national.html.j2", INDEX_TEMPLATE)


def prepare_templates() -> None:
    """Compile the templates and load the report text once, before reports render in parallel threads."""
    for language in LANGUAGES:
        report_text(language)
        for name in CONTENT_FILES:
            report_content(name, language)
        for name in REPORT_TEMPLATES:
            template_environment(language).get_template(name)


def render_page(inputs: ReportInputs, stem: str, language: str) -> str:
    """One report page as HTML text."""
    environment = template_environment(language)
    scores, study, draft, published = inputs.scores, inputs.study, inputs.draft, inputs.published
    release = {"release": inputs.release}
    if stem == NATIONAL_STEM:
        context = national_context(scores, study, draft, language, published, inputs.figures)
        return environment.get_template("national.html.j2").render({**context, **release})
    context = council_context(scores, study, stem, draft, language, published, inputs.figures, inputs.quotes)
    return environment.get_template("council.html.j2").render({**context, **release})


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


def published_address(html_path: Path) -> str | None:
    """Where a report's folder is published (config/publication.yaml base_url + reports/<wave>/), if set.

    A PDF's relative links resolve against it; without one they stay relative, never a local path.
    """
    base_url = load_publication_config().base_url
    return f"{base_url}reports/{html_path.parent.name}/" if base_url else None


def print_pdfs(html_paths: list[Path], workers: int | None = None) -> list[Path]:
    """Print reports to PDF beside their HTML, in one process per core unless told otherwise.

    WeasyPrint is the optional pdf extra: without it, one line before any worker starts (each would fail
    on its own, with a traceback).
    """
    require_extra("pdf")
    workers = min(workers or os.cpu_count() or 1, len(html_paths))
    sources = [str(path) for path in html_paths]
    bases = [published_address(path) for path in html_paths]
    if workers <= 1:
        printed = [print_pdf_bytes(source, base) for source, base in zip(sources, bases, strict=True)]
    else:
        context = multiprocessing.get_context("spawn")  # the caller may run threads (Prefect): never fork
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            printed = list(pool.map(print_pdf_bytes, sources, bases))
    pdf_paths = [path.with_suffix(".pdf") for path in html_paths]
    for pdf_path, content in zip(pdf_paths, printed, strict=True):
        replace_file(pdf_path, content)  # by rename, never in place: versions share files via hard links
    return pdf_paths


def finish_reports(written: list[list[Path]], pdf: bool) -> list[Path]:
    """Print PDFs if asked (or where an older PDF exists), write the site index; list every file written."""
    html_paths = [path for paths in written for path in paths]
    # A PDF left from an earlier run is reprinted too, so a rerun never leaves a PDF older than its HTML.
    to_print = [path for path in html_paths if pdf or path.with_suffix(".pdf").exists()]
    if to_print and not is_installed("pdf"):  # named as whatever asked for the PDFs
        require_extra("pdf", advise(EXTRAS["pdf"].option, "report_pdf") if pdf else REPRINT)
    pdf_paths = print_pdfs(to_print) if to_print else []
    # After printing, so the index links every PDF that now exists.
    indexes = [write_index(folder) for folder in sorted({path.parent for path in html_paths})]
    return sorted(html_paths + pdf_paths + indexes)


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
    release: str | None = None,
) -> tuple[ReportInputs, list[list[Report]]]:
    """What every report is rendered from (draft or final), and the batches to render them in.

    One batch per worker that can render at once: threads share one interpreter lock, so under them a
    single task renders all, while a process pool or Dask cluster gets one batch per worker.
    release: the version of the open-data release these figures go into (tasks.publish.plan_release).
    """
    if status not in STATUSES:
        raise ValueError(f"report status must be one of {', '.join(STATUSES)}, not {status!r}")
    prepare_templates()  # threads share this process's caches; a worker process fills its own
    answers = open_answer_tables(scores, version) if answers is None else answers
    release = plan_release(scores, version, answers=answers).version if release is None else release
    figures = publish_figures(scores, answers)
    inputs = ReportInputs(scores, study, status == "draft", answers, figures, index_quotes(scores), release)
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


def index_links(folder: Path, stem: str, language: str) -> dict[str, str | None]:
    """A report's page and, where printed, its PDF, as links from the index beside them."""
    pdf = report_file_name(stem, language, "pdf")
    html_name = report_file_name(stem, language, "html")
    return {"html": html_name, "pdf": pdf if (folder / pdf).is_file() else None}


def absent_change_tables(folder: Path, wave: str) -> tuple[str, ...]:
    """The change tables the wave's release lacks: all, unless its earlier wave is in the same output."""
    comparison = comparison_for(wave)
    if comparison is not None and (folder.parent / comparison.earlier).is_dir():
        return ()
    return load_open_data_config().wave_change_tables


def index_part(folder: Path, wave: str, language: str) -> dict[str, Any]:
    """One language's half of the index: every council's report, the national one and the open data."""
    councils = sorted(load_settings().councils, key=lambda c: council_short_name(c, language))
    tables = [t for t in load_open_data_config().tables if t not in absent_change_tables(folder, wave)]
    open_data = [(README, translate(language, "About the data (README)"))]
    open_data += [(DATAPACKAGE, translate(language, "Data package (Frictionless metadata)"))]
    open_data += [(CSVW_METADATA, translate(language, "CSV on the Web metadata"))]
    open_data += [(csv_name(table), csv_name(table)) for table in tables]
    return {
        "lang": language,
        "heading": translate(language, "Reports and data, wave {wave}").format(wave=wave),
        "intro": translate(
            language,
            "Every council's report and the national summary, as web pages and, where printed, as PDF; "
            "and the open data behind them.",
        ),
        "language_name": LANGUAGE_NAMES[language],
        "national_heading": translate(language, "National summary"),
        "national_name": report_text(language)["national_title"],
        "national": index_links(folder, NATIONAL_STEM, language),
        "councils_heading": translate(language, "Council reports"),
        "councils": [
            {"name": council_name(c, language), **index_links(folder, c.gss_code, language)} for c in councils
        ],
        "pdf_label": translate(language, "PDF"),
        "open_data_heading": translate(language, "Open data"),
        "open_data_intro": translate(
            language, "The published figures, with small counts withheld, under the Open Government Licence."
        ),
        "open_data": [{"href": open_data_href(wave, name), "label": label} for name, label in open_data],
    }


def render_index(folder: Path) -> str:
    """The site index for one wave's reports folder (reports/<wave>/index.html), Welsh then English."""
    wave = folder.name
    parts = [index_part(folder, wave, language) for language in INDEX_LANGUAGES]
    title = " / ".join(part["heading"] for part in parts)
    template = template_environment(SOURCE_LANGUAGE).get_template(INDEX_TEMPLATE)
    return template.render(lang=INDEX_LANGUAGES[0], title=title, parts=parts)


def write_index(folder: Path) -> Path:
    """Write the wave's site index beside its reports, keeping the file when nothing on it changed."""
    path = folder / INDEX_FILE
    content = render_index(folder).encode("utf-8")
    if not (path.is_file() and path.read_bytes() == content):
        replace_file(path, content)
    return path
