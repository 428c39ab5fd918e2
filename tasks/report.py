"""Report: render each council's local report and the national summary as HTML from Jinja2 templates."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import yaml
from prefect import task
from prefect.cache_policies import NONE

from maturity.settings import ALL_GROUPS, TEMPLATES_DIR, TOTAL_GROUP, load_settings
from tasks.contracts import Study
from tasks.score import LEVELS, Scores, round_half_up, whole_percent
from warehouse.store import replace_file

LANGUAGE = "en"


@cache
def template_environment() -> jinja2.Environment:
    """Jinja2 environment over report_templates/, escaping every value so comments cannot inject markup."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def report_text(language: str) -> dict[str, Any]:
    """Report prose for one language from report_templates/content.<language>.yaml."""
    with (TEMPLATES_DIR / f"content.{language}.yaml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


NOT_AVAILABLE = "\u2013"  # an en dash, as typeset tables show a missing figure


def _format_level(value: float) -> str:
    return NOT_AVAILABLE if pd.isna(value) else f"{round_half_up(value, 1):.1f}"


def response_rows(rates: pd.DataFrame, gss_code: str) -> list[dict[str, Any]]:
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
                "label": label,
                "invited": invited,
                "responses": responses,
                "percent": whole_percent(responses, invited),
            }
        )
    return rows


def theme_sections(scores: Scores, gss_code: str) -> list[dict[str, Any]]:
    """Per theme, the council's level on each characteristic beside the national spread."""
    settings = load_settings()
    combined = scores.maturity_levels[
        (scores.maturity_levels["gss_code"] == gss_code)
        & (scores.maturity_levels["recipient_group"] == ALL_GROUPS)
    ].set_index("characteristic")
    spread = scores.level_distribution.set_index("characteristic")
    sections = []
    for theme in settings.themes:
        rows = []
        for characteristic in (c for c in settings.characteristics if c.theme == theme.id):
            found = characteristic.id in combined.index
            cell = combined.loc[characteristic.id] if found else None
            level = int(cell["level"]) if found and pd.notna(cell["level"]) else None
            rows.append(
                {
                    "name": characteristic.name_en,
                    "level": level,
                    "mean": _format_level(cell["mean_level"]) if found else NOT_AVAILABLE,
                    "ci_lower": _format_level(cell["ci_lower"]) if found else NOT_AVAILABLE,
                    "ci_upper": _format_level(cell["ci_upper"]) if found else NOT_AVAILABLE,
                    "low_base": bool(cell["low_base"]) if found else False,
                    "descriptor": characteristic.levels.get(level, "") if level else "",
                    "distribution": [
                        int(spread.at[characteristic.id, f"councils_level_{lv}"])
                        if characteristic.id in spread.index
                        else 0
                        for lv in LEVELS
                    ],
                }
            )
        sections.append({"id": theme.id, "name_en": theme.name_en, "rows": rows})
    return sections


def shared_context(scores: Scores, study: Study, draft: bool) -> dict[str, Any]:
    """What every report shows: language, prose, status, wave and the framework."""
    return {
        "lang": LANGUAGE,
        "text": report_text(LANGUAGE),
        "draft": draft,
        "wave": scores.wave,
        "study_title": study.title,
        "levels": LEVELS,
        "characteristics": load_settings().characteristics,
    }


def council_context(scores: Scores, study: Study, gss_code: str, draft: bool) -> dict[str, Any]:
    """Everything the council template shows, as plain values."""
    themes = theme_sections(scores, gss_code)
    return {
        **shared_context(scores, study, draft),
        "council": load_settings().council_by_code[gss_code],
        "response_rows": response_rows(scores.response_rates, gss_code),
        "themes": themes,
        "any_low_base": any(row["low_base"] for theme in themes for row in theme["rows"]),
    }


def national_context(scores: Scores, study: Study, draft: bool) -> dict[str, Any]:
    """Everything the national template shows: heatmap, level spread, response rates."""
    settings = load_settings()
    combined = scores.maturity_levels[scores.maturity_levels["recipient_group"] == ALL_GROUPS]
    levels = combined.set_index(["gss_code", "characteristic"])["level"]
    rates = scores.response_rates.set_index(["gss_code", "recipient_group"])
    councils = sorted(settings.councils, key=lambda c: c.name_en)

    def level_of(gss: str, characteristic: str) -> int | None:
        value = levels.get((gss, characteristic))
        return int(value) if value is not None and pd.notna(value) else None

    def percent(gss: str, group: str) -> int:
        if (gss, group) not in rates.index:
            return 0
        return whole_percent(int(rates.at[(gss, group), "responses"]), int(rates.at[(gss, group), "invited"]))

    def invited(gss: str, group: str) -> int:
        return int(rates.at[(gss, group), "invited"]) if (gss, group) in rates.index else 0

    spread = scores.level_distribution.set_index("characteristic")
    return {
        **shared_context(scores, study, draft),
        "heatmap": [
            {
                "gss_code": c.gss_code,
                "name": c.name_en,
                "levels": [level_of(c.gss_code, ch.id) for ch in settings.characteristics],
            }
            for c in councils
        ],
        "distribution": [
            {
                "name": ch.name_en,
                "counts": [
                    int(spread.at[ch.id, f"councils_level_{lv}"]) if ch.id in spread.index else 0
                    for lv in LEVELS
                ],
            }
            for ch in settings.characteristics
        ],
        "response_table": [
            {
                "name": c.name_en,
                "officers_invited": invited(c.gss_code, "officers"),
                "officers_percent": percent(c.gss_code, "officers"),
                "members_invited": invited(c.gss_code, "elected_members"),
                "members_percent": percent(c.gss_code, "elected_members"),
                "total_percent": percent(c.gss_code, TOTAL_GROUP),
            }
            for c in councils
        ],
    }


def render_reports(
    scores: Scores, study: Study, version: Path, councils: list[str] | None = None, draft: bool = True
) -> list[Path]:
    """Render the national report and each council's report (all, or only those named) into the version."""
    environment = template_environment()
    council_template = environment.get_template("council.html.j2")
    national_template = environment.get_template("national.html.j2")
    target = version / "reports" / scores.wave
    if councils is None:
        shutil.rmtree(target, ignore_errors=True)
        councils = [c.gss_code for c in load_settings().councils]
    pages = {
        f"{gss_code}.{LANGUAGE}.html": council_template.render(
            council_context(scores, study, gss_code, draft)
        )
        for gss_code in councils
    }
    pages[f"national.{LANGUAGE}.html"] = national_template.render(national_context(scores, study, draft))
    for name, page in pages.items():
        replace_file(target / name, page.encode("utf-8"))
    return [target / name for name in sorted(pages)]


@task(name="render-reports", cache_policy=NONE)
def render_reports_task(
    scores: Scores, study: Study, version: Path, councils: list[str] | None = None
) -> list[Path]:
    """Prefect wrapper: render reports."""
    return render_reports(scores, study, version, councils)
