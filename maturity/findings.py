"""Findings: what a council's published figures say, chosen by stated rules, ready to be put into words.

Every finding is built from figures already in the release (the disclosure-controlled maturity and
statement tables and the published perception gaps), so a sentence never states more than open data
does. The rules are plain and documented (docs/methodology.md §4); the wording lives in the report
content files (report_templates/findings.<language>.yaml), one sentence template per rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from maturity.rounding import round_number
from maturity.settings import ALL_GROUPS, WALES_GSS_CODE, load_settings

LEVELS = (1, 2, 3)

# Kinds of figure a finding cites; the report formats each kind as the open data prints it.
MEAN_LEVEL, LEVEL, PERCENT, POINTS, LEVEL_GAP, P_VALUE, PROBABILITY, CONSENSUS, COUNT = (
    "mean_level",
    "level",
    "percent",
    "points",
    "level_gap",
    "p_value",
    "probability",
    "consensus",
    "count",
)


@dataclass(frozen=True)
class Finding:
    """One thing a rule found: the rule, the item it is about and the figures its sentence cites."""

    rule: str
    theme: str
    item: str  # a characteristic or statement id
    group: str = ALL_GROUPS  # whose answers the figures are (all, officers, elected_members)
    figures: dict[str, tuple[str, float]] = field(default_factory=dict)  # name -> (kind, value)


Row = dict[str, Any]  # one published row, column -> value
PlaceRows = dict[tuple[str, str], Row]  # (item, recipient_group) -> row, for one council or Wales


@dataclass(frozen=True)
class PublishedFigures:
    """The release's figures indexed once for the reports: every lookup a page makes is a dict lookup."""

    maturity: dict[str, PlaceRows]  # gss_code -> (characteristic, group) -> row
    statements: dict[str, PlaceRows]  # gss_code -> (statement_id, group) -> row
    gaps: dict[str, list[Row]]  # gss_code -> published perception gaps
    distribution: dict[str, list[int]]  # characteristic -> councils at levels 1, 2, 3

    def place(self, table: str, gss_code: str) -> PlaceRows:
        """One place's rows of the maturity or statement table (empty if none are in the release)."""
        return getattr(self, table).get(gss_code, {})


def index_rows(frame: pd.DataFrame, item: str) -> dict[str, PlaceRows]:
    """A table's rows keyed by place, then by (item, recipient_group)."""
    indexed: dict[str, PlaceRows] = {}
    for row in frame.to_dict("records"):
        indexed.setdefault(str(row["gss_code"]), {})[(str(row[item]), str(row["recipient_group"]))] = row
    return indexed


def count_levels(maturity: dict[str, PlaceRows]) -> dict[str, list[int]]:
    """How many councils' shown levels are at 1, 2, 3, per characteristic (maturity: index_rows).

    A council's shown level is its combined one, or a group's own where the combined figure is withheld
    (pick_shown_row), so the counts cover every council with a published figure, not only those whose
    elected members were enough for a combined one. Only published levels are counted: a count over
    withheld ones would let a reader work a withheld council's level out of the rest.
    """
    councils = [rows for gss_code, rows in maturity.items() if gss_code != WALES_GSS_CODE]
    counts = {}
    for characteristic in load_settings().characteristics:
        shown = [pick_shown_row(rows, characteristic.id)[0] for rows in councils]
        found = [int(row["level"]) for row in shown if row is not None]
        counts[characteristic.id] = [found.count(level) for level in LEVELS]
    return counts


def index_published(levels: pd.DataFrame, statements: pd.DataFrame, gaps: pd.DataFrame) -> PublishedFigures:
    """Index the published maturity, statement and perception-gap tables for the reports."""
    by_council: dict[str, list[Row]] = {}
    for row in gaps.to_dict("records"):
        by_council.setdefault(str(row["gss_code"]), []).append(row)
    maturity = index_rows(levels, "characteristic")
    return PublishedFigures(
        maturity, index_rows(statements, "statement_id"), by_council, count_levels(maturity)
    )


@dataclass(frozen=True)
class ShownCell:
    """The published maturity figure a report shows for one characteristic, beside Wales's."""

    characteristic: str
    theme: str
    group: str
    row: Row
    wales: Row | None

    @property
    def level(self) -> int:
        """The framework level of the published mean."""
        return int(self.row["level"])

    @property
    def difference(self) -> float:
        """The council's mean minus the Wales mean for the same group (0 where Wales is not shown)."""
        if self.wales is None or pd.isna(self.wales["mean_level"]):
            return 0.0
        return float(self.row["mean_level"]) - float(self.wales["mean_level"])

    @property
    def differs(self) -> bool:
        """Whether the comparison with the rest of Wales is published and flagged after FDR control."""
        flag = self.row.get("differs_from_rest_of_wales", pd.NA)
        return bool(flag) if pd.notna(flag) else False


PCT_AGREE = "pct_agree"  # a statement row's figure (a maturity row's is its level)


def is_shown(row: Row, figure: str = "level") -> bool:
    """A published row with its figure (not withheld, and with valid answers): a level or a % agree."""
    return row["status"] == "" and pd.notna(row[figure])


def pick_shown_row(rows: PlaceRows, item: str, figure: str = "level") -> tuple[Row | None, str | None]:
    """The published figure a report shows: all respondents, else a group's own (officers first).

    Where the elected members are too few to publish, the council's combined figure is withheld with
    them; the officers' figure, published in full, is the best the council can be told. item: a
    characteristic (figure "level") or a statement (figure "pct_agree").
    """
    for group in (ALL_GROUPS, *load_settings().recipient_groups):  # config/tools.yaml order
        row = rows.get((item, group))
        if row is not None and is_shown(row, figure):
            return row, (None if group == ALL_GROUPS else group)
    return None, None


def shown_cells(figures: PublishedFigures, gss_code: str) -> list[ShownCell]:
    """Every characteristic's shown figure for the council, in framework order (withheld ones left out)."""
    mine, wales = figures.place("maturity", gss_code), figures.place("maturity", WALES_GSS_CODE)
    cells = []
    for characteristic in load_settings().characteristics:
        row, group = pick_shown_row(mine, characteristic.id)
        if row is None:
            continue
        wales_row = wales.get((characteristic.id, group or ALL_GROUPS))
        shown_wales = wales_row if wales_row is not None and is_shown(wales_row) else None
        cells.append(
            ShownCell(characteristic.id, characteristic.theme, group or ALL_GROUPS, row, shown_wales)
        )
    return cells


def strength_order(cell: ShownCell) -> tuple[bool, int, float, float]:
    """Sort key, best first: clearly above Wales, then higher level, larger lead on Wales, higher mean."""
    above = cell.differs and cell.difference > 0
    return (not above, -cell.level, -cell.difference, -float(cell.row["mean_level"]))


def priority_order(cell: ShownCell) -> tuple[bool, int, float, float]:
    """Sort key, most pressing first: clearly below Wales, then lower level, larger gap, lower mean."""
    below = cell.differs and cell.difference < 0
    return (not below, cell.level, cell.difference, float(cell.row["mean_level"]))


def choose_strengths_and_priorities(
    cells: list[ShownCell], count: int
) -> tuple[list[ShownCell], list[ShownCell]]:
    """Up to `count` strengths, then up to `count` priorities from the characteristics left.

    Strengths are chosen first so a characteristic is never both; with fewer than twice count published
    characteristics the priorities get what is left. A figure clearly below Wales is never a strength,
    nor one clearly above Wales a priority: the report would contradict its own findings.
    """
    eligible = [cell for cell in cells if not (cell.differs and cell.difference < 0)]
    strengths = sorted(eligible, key=strength_order)[:count]
    chosen = {cell.characteristic for cell in strengths}
    priorities = [
        cell
        for cell in sorted(cells, key=priority_order)
        if cell.characteristic not in chosen and not (cell.differs and cell.difference > 0)
    ]
    return strengths, priorities[:count]


def characteristic_findings(cell: ShownCell) -> list[Finding]:
    """What the rules find in one characteristic's published figure."""
    method = load_settings().maturity
    row = cell.row
    cited = {
        "mean": (MEAN_LEVEL, float(row["mean_level"])),
        "level": (LEVEL, cell.level),
        "n": (COUNT, float(row["n_effective"])),
    }
    found = []
    if cell.differs and cell.wales is not None:
        rule = "above_wales" if cell.difference > 0 else "below_wales"
        compared = {
            "wales_mean": (MEAN_LEVEL, float(cell.wales["mean_level"])),
            "p_value": (P_VALUE, float(row["p_value_vs_rest_of_wales"])),
        }
        found.append(Finding(rule, cell.theme, cell.characteristic, cell.group, cited | compared))
    low, high = int(row["likely_level_low"]), int(row["likely_level_high"])
    if low != high:
        chance = {
            "low": (LEVEL, low),
            "high": (LEVEL, high),
            "probability": (PROBABILITY, float(row[f"p_level_{cell.level}"])),
        }
        found.append(Finding("between_levels", cell.theme, cell.characteristic, cell.group, cited | chance))
    if pd.notna(row["consensus"]) and float(row["consensus"]) < method.consensus_disagree_below:
        spread = {"consensus": (CONSENSUS, float(row["consensus"]))}
        found.append(Finding("low_consensus", cell.theme, cell.characteristic, cell.group, cited | spread))
    if bool(row["low_base"]):
        found.append(Finding("low_base", cell.theme, cell.characteristic, cell.group, cited))
    return found


def withheld_findings(figures: PublishedFigures, gss_code: str, theme: str) -> list[Finding]:
    """Characteristics whose combined figure is withheld: the report says whose figure it shows instead."""
    found = []
    mine = figures.place("maturity", gss_code)
    for characteristic in (c for c in load_settings().characteristics if c.theme == theme):
        row, group = pick_shown_row(mine, characteristic.id)
        if row is None:
            found.append(Finding("withheld", theme, characteristic.id))
        elif group is not None:
            found.append(Finding("one_group_only", theme, characteristic.id, group))
    return found


def statement_findings(figures: PublishedFigures, gss_code: str, theme: str) -> list[Finding]:
    """Statements where the council's share agreeing clearly differs from the rest of Wales."""
    mine, wales = figures.place("statements", gss_code), figures.place("statements", WALES_GSS_CODE)
    found = []
    for statement in (s for s in load_settings().statements if s.theme == theme):
        row, group = pick_shown_row(mine, statement.id, PCT_AGREE)
        wales_row = wales.get((statement.id, group or ALL_GROUPS))
        if row is None or wales_row is None:
            continue
        flag = row["differs_from_rest_of_wales"]
        if pd.isna(flag) or not bool(flag) or pd.isna(wales_row["pct_agree"]):
            continue
        higher = float(row["pct_agree"]) > float(wales_row["pct_agree"])
        cited = {
            "pct": (PERCENT, float(row["pct_agree"])),
            "wales_pct": (PERCENT, float(wales_row["pct_agree"])),
            "n": (COUNT, float(row["n_valid"])),
            "p_value": (P_VALUE, float(row["p_value_vs_rest_of_wales"])),
        }
        rule = "statement_higher" if higher else "statement_lower"
        found.append(Finding(rule, theme, statement.id, group or ALL_GROUPS, cited))
    return found


def gap_findings(figures: PublishedFigures, gss_code: str, theme: str) -> list[Finding]:
    """Clear officer-member perception gaps (published) on the theme's characteristics and statements."""
    settings = load_settings()
    first, second = settings.maturity.perception_gap_groups
    in_theme = {c.id for c in settings.characteristics if c.theme == theme} | {
        s.id for s in settings.statements if s.theme == theme
    }
    found = []
    for row in figures.gaps.get(gss_code, []):
        if row["item_id"] not in in_theme or not bool(row["gap_is_clear"]):
            continue
        kind = LEVEL_GAP if row["measure"] == "mean_level" else POINTS
        value = MEAN_LEVEL if row["measure"] == "mean_level" else PERCENT
        gap, lower, upper = (float(row[c]) for c in ("gap", "gap_ci_lower", "gap_ci_upper"))
        if gap < 0:  # said as the higher group's lead: the gap and its interval change sign together
            gap, lower, upper = -gap, -upper, -lower
        cited = {
            "first": (value, float(row[first])),
            "second": (value, float(row[second])),
            "gap": (kind, gap),
            "gap_lower": (kind, lower),
            "gap_upper": (kind, upper),
        }
        higher = "first_higher" if float(row["gap"]) > 0 else "second_higher"
        rule = f"gap_{row['measure']}_{higher}"
        found.append(Finding(rule, theme, str(row["item_id"]), ALL_GROUPS, cited))
    return found


def theme_findings(figures: PublishedFigures, gss_code: str, theme: str) -> list[Finding]:
    """Every finding for one council and theme, characteristic by characteristic, then statements, gaps."""
    cells = [cell for cell in shown_cells(figures, gss_code) if cell.theme == theme]
    found = [finding for cell in cells for finding in characteristic_findings(cell)]
    found += statement_findings(figures, gss_code, theme)
    found += gap_findings(figures, gss_code, theme)
    if not found:
        found += largest_unclear_difference(cells)
    return found + withheld_findings(figures, gss_code, theme)


def largest_unclear_difference(cells: list[ShownCell]) -> list[Finding]:
    """Where nothing is clear: the theme's largest tested difference from Wales, said to be unclear.

    It tells the council which way its figures lean and that the lean could be chance, rather than
    only that nothing was found.
    """
    places = load_settings().publication.level_decimals
    tested = [
        cell
        for cell in cells
        if cell.wales is not None
        and pd.notna(cell.row.get("p_value_vs_rest_of_wales", pd.NA))
        and round_number(cell.difference, places) != 0  # "2.04 against 2.04" is no difference to report
    ]
    if not tested:
        return []
    cell = max(tested, key=lambda c: (abs(c.difference), -float(c.row["p_value_vs_rest_of_wales"])))
    rule = "leans_above_wales" if cell.difference > 0 else "leans_below_wales"
    cited = {
        "mean": (MEAN_LEVEL, float(cell.row["mean_level"])),
        "level": (LEVEL, cell.level),
        "wales_mean": (MEAN_LEVEL, float(cell.wales["mean_level"])),  # type: ignore[index]
        "p_value": (P_VALUE, float(cell.row["p_value_vs_rest_of_wales"])),
    }
    return [Finding(rule, cell.theme, cell.characteristic, cell.group, cited)]


def national_priorities(figures: PublishedFigures) -> list[tuple[str, list[int]]]:
    """Characteristics with how many councils' published levels are at 1, 2, 3: most at level 1 first."""
    order = {c.id: position for position, c in enumerate(load_settings().characteristics)}
    return sorted(figures.distribution.items(), key=lambda item: (-item[1][0], -item[1][1], order[item[0]]))


# Findings that call for a step of their own in a characteristic's next steps, in the order given there.
PROMPTING_RULES = {
    "below_wales": "below_wales",
    "above_wales": "share_practice",
    "gap_mean_level_first_higher": "perception_gap",
    "gap_mean_level_second_higher": "perception_gap",
    "low_consensus": "low_consensus",
    "between_levels": "between_levels",
    "low_base": "low_base",
    "one_group_only": "one_group_only",
}


def council_findings(figures: PublishedFigures, gss_code: str) -> dict[str, list[Finding]]:
    """Every finding for one council, by theme id: computed once per page, read by findings and next steps."""
    return {theme.id: theme_findings(figures, gss_code, theme.id) for theme in load_settings().themes}


def prompted_steps(findings: dict[str, list[Finding]]) -> dict[str, list[tuple[str, str]]]:
    """Per characteristic, the kinds of extra step its findings call for, with whose figure it is."""
    prompted: dict[str, list[tuple[str, str]]] = {}
    for finding in (f for theme in findings.values() for f in theme):
        kind = PROMPTING_RULES.get(finding.rule)
        if kind and kind not in [k for k, _ in prompted.get(finding.item, [])]:
            prompted.setdefault(finding.item, []).append((kind, finding.group))
    order = list(dict.fromkeys(PROMPTING_RULES.values()))
    return {item: sorted(kinds, key=lambda kind: order.index(kind[0])) for item, kinds in prompted.items()}
