"""The independent attack (tests/attack/disclosure_attack.py) on tiny hand-made releases, answers known."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.attack.disclosure_attack import (
    Interval,
    attack_release,
    check_changes_files,
    load_release,
    parse_cell,
)

COUNCIL = "W06000001"
MATURITY_COLUMNS = [
    "wave",
    "gss_code",
    "characteristic",
    "recipient_group",
    "n_valid",
    "share_level_1_pct",
    "share_level_2_pct",
    "share_level_3_pct",
    "mean_level",
    "level",
    "ci_lower",
    "ci_upper",
    "status",
]
STATEMENT_COLUMNS = [
    "wave",
    "gss_code",
    "statement_id",
    "recipient_group",
    "n_valid",
    "pct_agree",
    "ci_lower",
    "ci_upper",
    "status",
]


def write_release(
    folder: Path,
    responses: dict[str, int],
    maturity: list[dict] = (),
    statements: list[dict] = (),
    changes: dict | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rates = [
        {"wave": "2018", "gss_code": COUNCIL, "recipient_group": g, "invited": 100, "responses": n}
        for g, n in responses.items()
    ]
    pd.DataFrame(rates).to_csv(folder / "response_rates.csv", index=False)
    frame = pd.DataFrame(
        [{"wave": "2018", "gss_code": COUNCIL, **r} for r in maturity], columns=MATURITY_COLUMNS
    )
    frame.astype(object).fillna("").to_csv(folder / "maturity_levels.csv", index=False)
    frame = pd.DataFrame(
        [{"wave": "2018", "gss_code": COUNCIL, **r} for r in statements], columns=STATEMENT_COLUMNS
    )
    frame.astype(object).fillna("").to_csv(folder / "statement_results.csv", index=False)
    if changes is not None:
        (folder / "CHANGES.json").write_text(json.dumps(changes))
    return folder


def withheld(group: str, n: str, **extra: str) -> dict:
    return {"recipient_group": group, "n_valid": n, "status": "[c]", **extra}


def target(report, group: str, category: str, index: int = 0, table: str = "maturity_levels"):
    [found] = [
        t
        for t in report.targets
        if t.table == table and t.group == group and t.category == category and t.index == index
    ]
    return found


def test_a_printed_number_is_the_interval_its_rounding_leaves() -> None:
    assert parse_cell("59.6") == Interval(pytest.approx(59.55), pytest.approx(59.65))
    assert parse_cell("1.4") == Interval(pytest.approx(1.35), pytest.approx(1.45))
    assert parse_cell("65").integers() == (65, 65)
    assert parse_cell("<10").integers()[1] == 9
    assert parse_cell("") is None
    assert parse_cell("[c]") is None


def test_the_issues_example_share_pins_both_groups(tmp_path: Path) -> None:
    # all n = 69 = 65 officers + 4 members, share at level 1 59.6%: (45/65 + 2/4) / 2 is the only fit.
    release = write_release(
        tmp_path / "r",
        {"officers": 70, "elected_members": 4, "total": 74},
        maturity=[
            {
                "characteristic": "data_analytics",
                "recipient_group": "all",
                "n_valid": "69",
                "share_level_1_pct": "59.6",
            },
            withheld("elected_members", "4", characteristic="data_analytics"),
            withheld("officers", "65", characteristic="data_analytics"),
        ],
    )
    report = attack_release(release, fingerprint=False)
    assert (
        target(report, "elected_members", "level", 1).lo,
        target(report, "elected_members", "level", 1).hi,
    ) == (2, 2)
    assert (target(report, "officers", "level", 1).lo, target(report, "officers", "level", 1).hi) == (45, 45)
    assert report.withheld_counts == 6
    assert len(report.pinned_exactly) == 2


def test_unknown_bases_are_enumerated(tmp_path: Path) -> None:
    # The members' base is blank: the attacker tries each base the responses allow (1 to 4 here).
    release = write_release(
        tmp_path / "r",
        {"officers": 70, "elected_members": 4, "total": 74},
        maturity=[
            {"characteristic": "data_analytics", "recipient_group": "all", "share_level_1_pct": "59.6"},
            withheld("elected_members", "", characteristic="data_analytics"),
            {
                "characteristic": "data_analytics",
                "recipient_group": "officers",
                "n_valid": "65",
                "share_level_1_pct": "69.2",
            },
        ],
    )
    report = attack_release(release, fingerprint=False)
    members = target(report, "elected_members", "level", 1)
    base = target(report, "elected_members", "base")
    # 45/65 at level 1 among officers; (69.2% + s) / 2 = 59.6% gives s = 50%: 1 of 2 or 2 of 4.
    assert (members.lo, members.hi) == (1, 2)
    assert (base.lo, base.hi) == (2, 4)


def test_a_withheld_group_next_to_a_published_one_is_pinned_and_its_unanimity_shows(tmp_path: Path) -> None:
    # 3 of 12 officers agree; 6 of 15 in all: the 3 members all agree.
    release = write_release(
        tmp_path / "r",
        {"officers": 12, "elected_members": 3, "total": 15},
        statements=[
            {"statement_id": "clear_vision", "recipient_group": "all", "n_valid": "15", "pct_agree": "40.0"},
            withheld("elected_members", "3", statement_id="clear_vision"),
            {
                "statement_id": "clear_vision",
                "recipient_group": "officers",
                "n_valid": "12",
                "pct_agree": "25.0",
            },
        ],
    )
    report = attack_release(release)
    agree = target(report, "elected_members", "agree", table="statement_results")
    assert (agree.lo, agree.hi) == (3, 3)
    assert report.unanimity == [f"statement_results {COUNCIL} clear_vision elected_members: all agree"]


def test_two_withheld_groups_under_a_pooled_row_are_not_pinned(tmp_path: Path) -> None:
    release = write_release(
        tmp_path / "r",
        {"officers": 20, "elected_members": 5, "total": 25},
        statements=[
            {"statement_id": "clear_vision", "recipient_group": "all", "n_valid": "25", "pct_agree": "40.0"},
            withheld("elected_members", "5", statement_id="clear_vision"),
            withheld("officers", "20", statement_id="clear_vision"),
        ],
    )
    report = attack_release(release)
    agree = target(report, "elected_members", "agree", table="statement_results")
    assert (agree.lo, agree.hi) == (0, 5)
    assert not report.pinned_exactly
    assert not report.unanimity


def test_differencing_pins_a_one_member_correction(tmp_path: Path) -> None:
    # Members 5, officers 65; the all share at level 1 moves 60.0 -> 50.0: one member moved from level 1.
    def release(name: str, share_1: str, share_2: str) -> Path:
        return write_release(
            tmp_path / name,
            {"officers": 65, "elected_members": 5, "total": 70},
            maturity=[
                {
                    "characteristic": "leadership",
                    "recipient_group": "all",
                    "n_valid": "70",
                    "share_level_1_pct": share_1,
                    "share_level_2_pct": share_2,
                    "share_level_3_pct": "1.5",
                },
                withheld("elected_members", "5", characteristic="leadership"),
                withheld("officers", "65", characteristic="leadership"),
            ],
        )

    before, after = release("before", "60.0", "38.5"), release("after", "50.0", "48.5")
    report = attack_release(after, [before], fingerprint=False)
    assert report.changed_councils == [COUNCIL]
    pinned = {(c.group, c.category, c.index, c.lo) for c in report.pinned_changes}
    assert ("elected_members", "level", 1, -1) in pinned
    assert ("elected_members", "level", 2, 1) in pinned


def test_changes_files_must_not_report_a_withheld_cell(tmp_path: Path) -> None:
    key = {
        "wave": "2018",
        "gss_code": COUNCIL,
        "characteristic": "leadership",
        "recipient_group": "elected_members",
    }
    changes = {
        "tables": {
            "maturity_levels": {
                "values_changed": [{"key": key, "column": "share_level_1_pct", "old": "40.0", "new": ""}]
            }
        }
    }
    rows = [withheld("elected_members", "5", characteristic="leadership")]
    current = write_release(
        tmp_path / "now", {"officers": 65, "elected_members": 5}, maturity=rows, changes=changes
    )
    assert check_changes_files(load_release(current), None)
