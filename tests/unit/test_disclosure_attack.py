"""The independent attack (tests/attack/disclosure_attack.py) on tiny hand-made releases, answers known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.attack.disclosure_attack import (
    WALES,
    Interval,
    Truth,
    attack_release,
    check_changes_files,
    check_derived_figures,
    load_release,
    parse_cell,
)
from tests.attack.disclosure_attack import _method as attacker_method

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
    "n_effective",
    "p_value_vs_rest_of_wales",
    "differs_from_rest_of_wales",
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
    "p_value_vs_rest_of_wales",
    "differs_from_rest_of_wales",
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


def target(report, group: str, category: str, index: int = 0, table: str = "maturity_levels", gss=None):
    [found] = [
        t
        for t in report.targets
        if t.table == table
        and t.group == group
        and t.category == category
        and t.index == index
        and gss in (None, t.gss_code)
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


def test_the_all_rows_effective_base_narrows_the_enumerated_bases(tmp_path: Path) -> None:
    # As above, and the all row prints its effective base 4 / (1/65 + 1/b): 7.8 is b = 2, not 4 (15.1).
    release = write_release(
        tmp_path / "r",
        {"officers": 70, "elected_members": 4, "total": 74},
        maturity=[
            {
                "characteristic": "data_analytics",
                "recipient_group": "all",
                "share_level_1_pct": "59.6",
                "n_effective": "7.8",
            },
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
    members, base = target(report, "elected_members", "level", 1), target(report, "elected_members", "base")
    assert (members.lo, members.hi, base.lo, base.hi) == (1, 1, 2, 2)


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


# ----------------------------------------------------------------------------- Wales rows across councils

OTHER, THIRD = "W06000002", "W06000003"


def write_rates(folder: Path, responses: dict[tuple[str, str], int]) -> None:
    rates = [
        {"wave": "2018", "gss_code": gss, "recipient_group": g, "invited": 100, "responses": n}
        for (gss, g), n in responses.items()
    ]
    pd.DataFrame(rates).to_csv(folder / "response_rates.csv", index=False)


def members_row(gss: str, n: str, shares: tuple[str, str, str], mean: str, **extra: str) -> dict:
    return {
        "gss_code": gss,
        "characteristic": "leadership",
        "recipient_group": "elected_members",
        "n_valid": n,
        "share_level_1_pct": shares[0],
        "share_level_2_pct": shares[1],
        "share_level_3_pct": shares[2],
        "mean_level": mean,
        **extra,
    }


def hidden_members(gss: str) -> dict:
    return {"gss_code": gss, **withheld("elected_members", "", characteristic="leadership")}


def test_the_wales_row_less_the_published_councils_pins_the_one_withheld_council(tmp_path: Path) -> None:
    # Members: ours withheld (3 responses, truly 1 at each level); the other council's 5, 3, 2 of 10
    # published; Wales 6, 4, 3 of 13. Our council's own rows leave each level anywhere in 0-3.
    release = write_release(
        tmp_path / "r",
        {},
        maturity=[
            hidden_members(COUNCIL),
            members_row(OTHER, "10", ("50.0", "30.0", "20.0"), "1.7"),
            members_row(WALES, "13", ("46.2", "30.8", "23.1"), "1.77"),
        ],
    )
    write_rates(release, {(COUNCIL, "elected_members"): 3, (OTHER, "elected_members"): 10})
    report = attack_release(release, fingerprint=False)
    for k in (1, 2, 3):
        found = target(report, "elected_members", "level", k)
        assert (found.gss_code, found.lo, found.hi, found.across_councils) == (COUNCIL, 1, 1, True)
    assert (target(report, "elected_members", "base").lo, target(report, "elected_members", "base").hi) == (
        3,
        3,
    )
    assert len(report.pinned_exactly) == 3


def test_two_withheld_councils_share_the_wales_remainder_but_a_level_nobody_took_is_pinned(
    tmp_path: Path,
) -> None:
    # Wales less the published council leaves 4, 3, 0 to two withheld councils of 5 responses each.
    release = write_release(
        tmp_path / "r",
        {},
        maturity=[
            hidden_members(COUNCIL),
            hidden_members(THIRD),
            members_row(OTHER, "10", ("50.0", "30.0", "20.0"), "1.7"),
            members_row(WALES, "17", ("52.9", "35.3", "11.8"), "1.59"),
        ],
    )
    write_rates(
        release,
        {(COUNCIL, "elected_members"): 5, (THIRD, "elected_members"): 5, (OTHER, "elected_members"): 10},
    )
    truth = Truth(
        {
            (COUNCIL, "leadership", "elected_members"): np.array([2, 2, 0, 1]),
            (THIRD, "leadership", "elected_members"): np.array([2, 1, 0, 2]),
            (OTHER, "leadership", "elected_members"): np.array([5, 3, 2, 0]),
        },
        {},
    )
    report = attack_release(release, truth=truth, fingerprint=False)
    assert not report.model_errors, report.describe()
    ours = [t for t in report.targets if t.gss_code == COUNCIL and t.category == "level"]
    assert {t.index: (t.lo, t.hi) for t in ours} == {1: (0, 4), 2: (0, 3), 3: (0, 0)}
    leaked = {(t.gss_code, t.category, t.index) for t in report.leaks}
    assert {(COUNCIL, "level", 3), (THIRD, "level", 3)} <= leaked  # nobody left for level 3: pinned at 0
    assert (COUNCIL, "level", 1) not in leaked


def test_the_wales_all_row_gives_a_withheld_wales_group_by_its_equal_weights(tmp_path: Path) -> None:
    # Wales's members row is withheld, but its all row (officers and members weighted equally) and its
    # officers row are published: the members' Wales shares follow, and our council's counts with them.
    def wales(group: str, n: str, shares: tuple[str, str, str], mean: str) -> dict:
        return {**members_row(WALES, n, shares, mean), "recipient_group": group}

    release = write_release(
        tmp_path / "r",
        {},
        maturity=[
            hidden_members(COUNCIL),
            members_row(OTHER, "10", ("50.0", "30.0", "20.0"), "1.7"),
            {**hidden_members(WALES)},
            wales("officers", "20", ("50.0", "30.0", "20.0"), "1.7"),
            wales("all", "33", ("48.1", "30.4", "21.5"), "1.73"),
        ],
    )
    write_rates(release, {(COUNCIL, "elected_members"): 3, (OTHER, "elected_members"): 10})
    report = attack_release(release, fingerprint=False)
    assert not report.model_errors, report.describe()
    ours = [t for t in report.targets if t.gss_code == COUNCIL and t.category == "level"]
    assert {t.index: (t.lo, t.hi) for t in ours} == {1: (1, 1), 2: (1, 1), 3: (1, 1)}


def test_derived_figures_must_come_from_published_rows_only(tmp_path: Path) -> None:
    release = write_release(
        tmp_path / "r",
        {},
        maturity=[
            {**hidden_members(COUNCIL), "p_value_vs_rest_of_wales": "0.5"},
            members_row(
                OTHER,
                "10",
                ("50.0", "30.0", "20.0"),
                "1.7",
                p_value_vs_rest_of_wales="0.01",
                differs_from_rest_of_wales="False",
            ),
            {**members_row(OTHER, "12", ("50.0", "25.0", "25.0"), "1.75"), "recipient_group": "officers"},
            hidden_members(WALES),
        ],
        statements=[
            {
                "gss_code": OTHER,
                "statement_id": "clear_vision",
                "recipient_group": g,
                "n_valid": "20",
                "pct_agree": "40.0",
                "p_value_vs_rest_of_wales": p,
                "differs_from_rest_of_wales": "False",
            }
            for g, p in (("officers", "0.01"), ("elected_members", "0.02"))
        ]
        + [
            {
                "gss_code": WALES,
                "statement_id": "clear_vision",
                "recipient_group": g,
                "n_valid": "90",
                "pct_agree": "30.0",
            }
            for g in ("officers", "elected_members")
        ],
    )
    gaps = [
        {"gss_code": COUNCIL, "measure": "mean_level", "item_id": "leadership", "gap": "0.1"},
        {
            "gss_code": OTHER,
            "measure": "mean_level",
            "item_id": "leadership",
            "officers": "1.75",
            "elected_members": "1.7",
            "gap": "0.3",
        },
    ]
    pd.DataFrame(gaps).fillna("").to_csv(release / "perception_gaps.csv", index=False)
    write_rates(release, {(OTHER, "elected_members"): 10})
    leaks = check_derived_figures(load_release(release), attacker_method())
    expected = [
        f"maturity_levels {COUNCIL} leadership elected_members: withheld row prints",
        f"maturity_levels {OTHER} leadership elected_members: compared with the rest of Wales",
        f"{OTHER}: the flags are not Benjamini-Hochberg",  # 0.01, 0.01, 0.02 all discoveries at 5%
        f"perception_gaps {COUNCIL} mean_level leadership: a gap although",
        f"perception_gaps {OTHER} mean_level leadership: gap 0.3 is not",
    ]
    for start in expected:
        assert any(leak.startswith(start) for leak in leaks), (start, leaks)
    assert len(leaks) == len(expected), leaks


# ----------------------------------------------------------------------------- corrections and boundaries


def _statement_release(folder: Path, officers_agree: int, wales_members: str | None) -> Path:
    """One council, 20 officers (published) and 8 members (withheld, base and all row too); Wales rows are
    the council's, its members' and all rows published only where wales_members (the members' % agree)."""
    rows = [
        {"statement_id": "clear_vision", **withheld("all", "")},
        {"statement_id": "clear_vision", **withheld("elected_members", "")},
        {
            "statement_id": "clear_vision",
            "recipient_group": "officers",
            "n_valid": "20",
            "pct_agree": f"{100 * officers_agree / 20:.1f}",
        },
        {
            "gss_code": WALES,
            "statement_id": "clear_vision",
            "recipient_group": "officers",
            "n_valid": "20",
            "pct_agree": f"{100 * officers_agree / 20:.1f}",
        },
    ]
    for group in ("elected_members", "all"):
        if wales_members is None:
            rows.append({"gss_code": WALES, "statement_id": "clear_vision", **withheld(group, "")})
    if wales_members is not None:
        rows.append(
            {
                "gss_code": WALES,
                "statement_id": "clear_vision",
                "recipient_group": "elected_members",
                "n_valid": "8",
                "pct_agree": wales_members,
            }
        )
    return write_release(folder, {"officers": 20, "elected_members": 8, "total": 28}, statements=rows)


def _statement_truth(officers_agree: int, members_agree: int) -> Truth:
    return Truth(
        {},
        {
            (COUNCIL, "clear_vision", "officers"): np.array([officers_agree, 20 - officers_agree, 0]),
            (COUNCIL, "clear_vision", "elected_members"): np.array([members_agree, 8 - members_agree, 0]),
        },
    )


def test_a_correction_of_an_officer_and_a_member_moves_each_group_row_by_one_person(tmp_path: Path) -> None:
    # The correction turns one officer (printed: 10 -> 11 of 20 agree) and one member (3 -> 4 of 8, hidden
    # now that Wales's members row is withheld) to agree. Each group row moves by one person, the all row by
    # both: the members' row is not held where it was because the officers' row moved.
    before = _statement_release(tmp_path / "1", 10, "37.5")
    after = _statement_release(tmp_path / "2", 11, None)
    report = attack_release(
        after, [before], _statement_truth(11, 4), previous_truths=[_statement_truth(10, 3)]
    )
    assert report.changed_councils == [COUNCIL]
    assert not report.model_errors, report.describe()
    members = target(report, "elected_members", "agree", table="statement_results", gss=COUNCIL)
    assert (members.lo, members.hi) == (2, 4)  # 3 in the first release, one person's move either way
    everyone = target(report, "all", "agree", table="statement_results", gss=COUNCIL)
    assert (everyone.lo, everyone.hi) == (13, 15)  # 11 officers and 2-4 members


def test_a_correction_no_printed_row_shows_adds_to_the_next_ones_bound(tmp_path: Path) -> None:
    # 2018.2 corrects a member (3 -> 4 agree) that no council's printed row shows (Wales's members row is
    # withheld); 2018.3 an officer (10 -> 11) and the same member again (4 -> 5). The attacker cannot tell
    # which council 2018.2 corrected: over the two corrections the members' row may move by two persons.
    first = _statement_release(tmp_path / "1", 10, "37.5")
    second = _statement_release(tmp_path / "2", 10, None)
    third = _statement_release(tmp_path / "3", 11, None)
    report = attack_release(
        third,
        [first, second],
        _statement_truth(11, 5),
        previous_truths=[_statement_truth(10, 3), _statement_truth(10, 4)],
    )
    assert not report.model_errors, report.describe()
    members = target(report, "elected_members", "agree", table="statement_results", gss=COUNCIL)
    assert members.lo <= 5 <= members.hi
    assert (members.lo, members.hi) == (1, 5)


def test_a_mean_on_a_level_threshold_may_be_printed_at_either_level(tmp_path: Path) -> None:
    # 18, 15 and 1 of 34 officers: the mean is 51 / 34 = 1.5, level 2's threshold exactly, but the
    # published level is 1 (the scoring code's floating-point mean is 1.4999999999999998). The program
    # must stay feasible at the threshold.
    release = write_release(
        tmp_path / "r",
        {"officers": 40, "elected_members": 5, "total": 45},
        maturity=[
            withheld("all", "", characteristic="corporate_standards"),
            withheld("elected_members", "", characteristic="corporate_standards"),
            {
                "characteristic": "corporate_standards",
                "recipient_group": "officers",
                "n_valid": "34",
                "share_level_1_pct": "52.9",
                "share_level_2_pct": "44.1",
                "share_level_3_pct": "2.9",
                "mean_level": "1.5",
                "level": "1",
            },
        ],
    )
    truth = Truth(
        {
            (COUNCIL, "corporate_standards", "officers"): np.array([18, 15, 1, 0]),
            (COUNCIL, "corporate_standards", "elected_members"): np.array([2, 2, 1, 0]),
        },
        {},
    )
    report = attack_release(release, truth=truth, fingerprint=False)
    assert not report.model_errors, report.describe()
    assert target(report, "elected_members", "level", 1).hi == 5
