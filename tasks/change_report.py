"""The reports' "since the earlier wave" sections, from the release's change tables (tasks/publish.py).

Every figure is the one maturity_change or statement_change publishes; a withheld row is named as such,
never estimated. The wording is in report_templates/change.<language>.yaml.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from maturity.comparability import WaveComparison, reason_text
from maturity.settings import ALL_GROUPS, WALES_GSS_CODE, load_settings
from tasks.report_words import (
    as_noun,
    format_mean_level,
    format_number,
    join_names,
    report_content,
    translate,
)

MINUS = "\u2212"  # a true minus sign: the hyphen is easy to miss in a figure
CHANGE_SYMBOLS = {"up": "▲", "down": "▼", "same": "·", "withheld": "[c]"}
# The change chart's axis runs from -limit to +limit levels: the first of these covering every interval.
AXIS_LIMITS = (1.0, 1.5, 2.0)


def signed(value: float, language: str, decimals: int | None = None) -> str:
    """A change with its sign: +0.33, a minus sign before 0.12, 0.00."""
    text = format_number(abs(float(value)), language, decimals)
    if float(value) > 0:
        return f"+{text}"
    return f"{MINUS}{text}" if float(value) < 0 else text


def is_published(row: pd.Series) -> bool:
    """Whether a change row's figures are published (status empty)."""
    return row["status"] == ""


def pick_change_row(rows: dict[str, pd.Series]) -> tuple[pd.Series | None, str]:
    """The change a report shows: all respondents, else one group's (officers first), as the summary."""
    for group in (ALL_GROUPS, *load_settings().recipient_groups):
        row = rows.get(group)
        if row is not None and is_published(row):
            return row, group
    return None, ALL_GROUPS


def change_verdict(row: pd.Series | None) -> str:
    """up or down where the published change is clear, same where it is not, withheld where not shown."""
    if row is None or not is_published(row):
        return "withheld"
    if bool(row["change_is_clear"]):
        return "up" if float(row["change_ci_lower"]) > 0 else "down"
    return "same"


def level_change_rows(table: pd.DataFrame, gss_code: str) -> dict[str, dict[str, pd.Series]]:
    """One council's maturity change rows, by characteristic then group."""
    rows: dict[str, dict[str, pd.Series]] = {}
    for _, row in table[table["gss_code"] == gss_code].iterrows():
        rows.setdefault(row["characteristic"], {})[row["recipient_group"]] = row
    return rows


def characteristic_change(row: pd.Series | None, group: str, name: str, language: str) -> dict[str, Any]:
    """A characteristic's change as the table, the chart and the sentences show it."""
    content = report_content("change", language)
    verdict = change_verdict(row)
    shown = verdict != "withheld"
    assert row is not None or not shown
    decimals = load_settings().publication.level_decimals
    return {
        "name": name,
        "group": group,
        "group_note": content["group_note"].get(group, ""),
        "verdict": verdict,
        "verdict_text": content["verdict"][verdict],
        "symbol": CHANGE_SYMBOLS[verdict],
        "shown": shown,
        "then": format_mean_level(row["mean_level_earlier"], language) if shown else "[c]",
        "now": format_mean_level(row["mean_level"], language) if shown else "[c]",
        "change": float(row["mean_level_change"]) if shown else 0.0,
        "change_text": signed(row["mean_level_change"], language) if shown else "[c]",
        "lower": float(row["change_ci_lower"]) if shown else 0.0,
        "upper": float(row["change_ci_upper"]) if shown else 0.0,
        "lower_text": signed(row["change_ci_lower"], language, decimals) if shown else "",
        "upper_text": signed(row["change_ci_upper"], language, decimals) if shown else "",
        "level_then": int(row["level_earlier"]) if shown else None,
        "level_now": int(row["level"]) if shown else None,
    }


def moved_sentence(item: dict[str, Any], earlier: str, language: str) -> str:
    """A clear change in words, with the figures as published, and what it does to the level."""
    content = report_content("change", language)
    who = content["who"][item["group"]]
    sentence = content[item["verdict"]].format(
        characteristic=item["name"],
        who=who,
        now=item["now"],
        then=item["then"],
        earlier=earlier,
        change=item["change_text"],
        lower=item["lower_text"],
        upper=item["upper_text"],
    )
    if item["level_then"] != item["level_now"]:
        return f"{sentence} {content['level_moved'].format(**item)}"
    return f"{sentence} {content['level_same'].format(**item)}"


def chart_axis(items: list[dict[str, Any]]) -> float:
    """The change chart's half-range in levels: the first limit covering every shown interval."""
    reach = max((max(abs(i["lower"]), abs(i["upper"])) for i in items if i["shown"]), default=0.0)
    return next((limit for limit in AXIS_LIMITS if reach <= limit), AXIS_LIMITS[-1])


def statement_change_rows(
    table: pd.DataFrame, comparison: WaveComparison, gss_code: str, language: str
) -> list[dict[str, Any]]:
    """The council's published % agree then and now per comparable statement (all pooled, else a group)."""
    content = report_content("change", language)
    settings = load_settings()
    mine = table[table["gss_code"] == gss_code]
    places = settings.publication.percent_decimals
    rows = []
    for statement in settings.statements:
        if statement.id not in comparison.statements:
            continue
        found = {
            row["recipient_group"]: row for _, row in mine[mine["statement_id"] == statement.id].iterrows()
        }
        row, group = pick_change_row(found)
        verdict = change_verdict(row)
        shown = row is not None and verdict != "withheld"
        rows.append(
            {
                "text": translate(language, statement.text_en),
                "direction": "" if statement.higher_is_better else translate(language, "lower is better"),
                "group_note": content["group_note"].get(group, "") if shown else "",
                "then": f"{format_number(row['pct_agree_earlier'], language, places)}%" if shown else "[c]",
                "now": f"{format_number(row['pct_agree'], language, places)}%" if shown else "[c]",
                "change_text": signed(row["pct_agree_change"], language, places) if shown else "[c]",
                "lower_text": signed(row["change_ci_lower"], language, places) if shown else "",
                "upper_text": signed(row["change_ci_upper"], language, places) if shown else "",
                "verdict_text": content["verdict"][verdict],
                "symbol": CHANGE_SYMBOLS[verdict],
            }
        )
    return rows


def statement_text(statement_id: str, language: str) -> str:
    """A statement's wording, translated, as quoted in a sentence."""
    statement = next(s for s in load_settings().statements if s.id == statement_id)
    return translate(language, statement.text_en).rstrip(".")


def cannot_compare(comparison: WaveComparison, withheld: list[str], language: str) -> list[str]:
    """Sentences on what the section cannot compare: withheld figures, declared changes of question."""
    content = report_content("change", language)
    waves = {"earlier": comparison.earlier, "later": comparison.later}
    settings = load_settings()
    lines = []
    if withheld:
        lines.append(content["cannot_withheld"].format(characteristics=join_names(withheld, language)))
    for characteristic in settings.characteristics:
        reason = comparison.not_comparable.get(characteristic.id)
        if reason is not None:
            lines.append(
                content["cannot_reason"].format(
                    characteristic=translate(language, characteristic.name_en),
                    reason=translate(language, reason_text(reason)),
                )
            )
    for statement_id, reason in comparison.not_comparable.items():
        if statement_id in {s.id for s in settings.statements}:
            lines.append(
                content["cannot_reason"].format(
                    characteristic=f"“{statement_text(statement_id, language)}”",
                    reason=translate(language, reason_text(reason)),
                )
            )
    for key, ids in (
        ("statement_new", comparison.new_statements),
        ("statement_dropped", comparison.dropped_statements),
    ):
        if ids:
            quoted = [f"“{statement_text(s, language)}”" for s in ids]
            wording = content[f"{key}_one"] if len(quoted) == 1 else content[key]
            lines.append(wording.format(statements=join_names(quoted, language), **waves))
    for now, then in comparison.statements.items():
        if now != then:
            lines.append(
                content["statement_mapped"].format(
                    now=statement_text(now, language), then=statement_text(then, language), **waves
                )
            )
    return lines or [content["cannot_none"].format(**waves)]


def council_change(
    changes: dict[str, pd.DataFrame],
    comparison: WaveComparison | None,
    gss_code: str,
    council: str,
    language: str,
) -> dict[str, Any] | None:
    """The council report's change section, or None when the release has no change since an earlier wave."""
    if comparison is None or "maturity_change" not in changes:
        return None
    content = report_content("change", language)
    waves = {"earlier": comparison.earlier, "later": comparison.later}
    by_characteristic = level_change_rows(changes["maturity_change"], gss_code)
    items = []
    for characteristic in load_settings().characteristics:
        if characteristic.id not in comparison.characteristics:
            continue
        row, group = pick_change_row(by_characteristic.get(characteristic.id, {}))
        items.append(characteristic_change(row, group, translate(language, characteristic.name_en), language))
    moved = [i for i in items if i["verdict"] in ("up", "down")]
    still = [i for i in items if i["verdict"] == "same"]
    withheld = [as_noun(i["name"]) for i in items if i["verdict"] == "withheld"]
    largest = max(still, key=lambda i: abs(i["change"]), default=None)
    return {
        "heading": content["heading"].format(**waves),
        "intro": content["intro"].format(council=council, **waves),
        "items": items,
        "axis": chart_axis(items),
        "moved": [moved_sentence(i, comparison.earlier, language) for i in moved]
        or [content["none_moved"].format(**waves)],
        "still": (
            content["still"].format(characteristics=join_names([as_noun(i["name"]) for i in still], language))
            if still
            else content["still_none"]
        ),
        "largest_unclear": (
            content["largest_unclear"].format(
                characteristic=as_noun(largest["name"]),
                then=largest["then"],
                now=largest["now"],
                change=largest["change_text"],
                lower=largest["lower_text"],
                upper=largest["upper_text"],
            )
            if largest is not None and largest["change"] != 0
            else ""
        ),
        "cannot": cannot_compare(comparison, withheld, language),
        "statements": statement_change_rows(changes["statement_change"], comparison, gss_code, language),
        "text": content,
        "table_caption": content["table_caption"].format(council=council, **waves),
        "statements_caption": content["statements_caption"].format(council=council, **waves),
        "chart_title": content["chart_title"].format(council=council, **waves),
        "chart_description": "; ".join(
            f"{i['name']}: {i['then']} → {i['now']}, {i['change_text']} ({i['verdict_text']})" for i in items
        ),
    }


def national_change(
    changes: dict[str, pd.DataFrame],
    comparison: WaveComparison | None,
    councils: list[tuple[str, str, str]],
    language: str,
) -> dict[str, Any] | None:
    """The national report's change heatmap: councils (alphabetical, as given) x characteristics, and Wales.

    councils: (gss_code, name, href) in the order to list them.
    """
    if comparison is None or "maturity_change" not in changes:
        return None
    content = report_content("change", language)
    waves = {"earlier": comparison.earlier, "later": comparison.later}
    table = changes["maturity_change"]
    characteristics = [c for c in load_settings().characteristics if c.id in comparison.characteristics]

    def cells(gss_code: str) -> list[dict[str, Any]]:
        rows = level_change_rows(table, gss_code)
        found = []
        for characteristic in characteristics:
            row, group = pick_change_row(rows.get(characteristic.id, {}))
            verdict = change_verdict(row)
            found.append(
                {
                    "verdict": verdict,
                    "symbol": CHANGE_SYMBOLS[verdict],
                    "text": signed(row["mean_level_change"], language) if row is not None else "",
                    "officers_only": group != ALL_GROUPS and verdict != "withheld",
                }
            )
        return found

    rows = [{"name": name, "href": href, "cells": cells(gss)} for gss, name, href in councils]
    verdicts = [cell["verdict"] for row in rows for cell in row["cells"]]
    compared = sum(v != "withheld" for v in verdicts)
    return {
        "heading": content["national_heading"].format(**waves),
        "intro": content["national_intro"].format(**waves),
        "wales_summary": content["national_wales"].format(
            up=verdicts.count("up"), down=verdicts.count("down"), compared=compared
        ),
        "caption": content["national_caption"].format(**waves),
        "characteristics": [translate(language, c.name_en) for c in characteristics],
        "wales": {"name": content["wales_name"], "href": None, "cells": cells(WALES_GSS_CODE)},
        "rows": rows,
        "any_officers_only": any(cell["officers_only"] for row in rows for cell in row["cells"]),
        "text": content,
    }
