"""Disclosure control: hand-checked tables, secondary suppression, and no derivable cell (property)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maturity.disclosure import (
    Relation,
    apply_disclosure_control,
    derivable_cells,
    relations_within,
    secondary_withheld,
)

THRESHOLD = 10
C = "[c]"


def _withhold(table: pd.DataFrame, relations: list[Relation], statistics: list[str]) -> pd.DataFrame:
    return apply_disclosure_control(table, statistics, relations, THRESHOLD, C)


def _council_groups(n_officers: int, n_members: int) -> pd.DataFrame:
    """One council and characteristic: both groups and all respondents, means made up by hand."""
    return pd.DataFrame(
        {
            "gss_code": "W06000004",
            "characteristic": "leadership",
            "recipient_group": ["all", "elected_members", "officers"],
            "n_valid": [n_officers + n_members, n_members, n_officers],
            "mean_level": [1.8, 2.0, 1.6],
            "level": pd.array([2, 2, 2], dtype="Int8"),
        }
    )


def _status(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["recipient_group"], table["status"], strict=True))


def _group_relations(table: pd.DataFrame) -> list[Relation]:
    return relations_within(table, ["gss_code", "characteristic"], "recipient_group", "all")


def test_a_small_group_is_withheld_and_so_is_the_other_group() -> None:
    # 9 members: withheld. Published officers (1.6) and all (1.8 = (1.6 + m) / 2) would give m = 2.0,
    # so the officers' figure is withheld too; the council's headline figure stays.
    table = _council_groups(n_officers=67, n_members=9)
    out = _withhold(table, _group_relations(table), ["mean_level", "level"])
    assert _status(out) == {"all": "", "elected_members": C, "officers": C}
    assert out["mean_level"].isna().tolist() == [False, True, True]
    assert out["level"].isna().tolist() == [False, True, True]
    assert str(out["mean_level"].dtype) == "Float64"
    assert str(out["level"].dtype) == "Int8"
    assert out["n_valid"].tolist() == [76, 9, 67]  # bases are counts, not answers: always published


def test_two_small_groups_need_no_secondary_suppression() -> None:
    table = _council_groups(n_officers=8, n_members=6)
    out = _withhold(table, _group_relations(table), ["mean_level"])
    assert _status(out) == {"all": "", "elected_members": C, "officers": C}


def test_a_small_total_withholds_everything() -> None:
    table = _council_groups(n_officers=5, n_members=3)
    out = _withhold(table, _group_relations(table), ["mean_level"])
    assert _status(out) == {"all": C, "elected_members": C, "officers": C}


def test_a_group_with_no_valid_answers_has_nothing_to_protect() -> None:
    table = _council_groups(n_officers=30, n_members=0)
    out = _withhold(table, _group_relations(table), ["mean_level"])
    assert _status(out) == {"all": "", "elected_members": C, "officers": ""}


def test_no_small_base_withholds_nothing() -> None:
    table = _council_groups(n_officers=30, n_members=10)
    out = _withhold(table, _group_relations(table), ["mean_level"])
    assert set(out["status"]) == {""}
    assert out["mean_level"].tolist() == [1.8, 2.0, 1.6]


def _statement_table() -> pd.DataFrame:
    """Three councils by group and the Wales figure pooling their all-respondent figures."""
    rows = [
        ("W06000001", "all", 8),
        ("W06000001", "elected_members", 3),
        ("W06000001", "officers", 5),
        ("W06000002", "all", 40),
        ("W06000002", "elected_members", 10),
        ("W06000002", "officers", 30),
        ("W06000003", "all", 50),
        ("W06000003", "elected_members", 15),
        ("W06000003", "officers", 35),
        ("W92000004", "all", 98),
    ]
    table = pd.DataFrame(rows, columns=["gss_code", "recipient_group", "n_valid"])
    table["statement_id"] = "clear_vision"
    table["pct_agree"] = [25.0, 33.3, 20.0, 50.0, 40.0, 53.3, 60.0, 46.7, 65.7, 52.0]
    return table


def _statement_relations(table: pd.DataFrame) -> list[Relation]:
    return relations_within(table, ["gss_code", "statement_id"], "recipient_group", "all") + relations_within(
        table, ["statement_id", "recipient_group"], "gss_code", "W92000004"
    )


def test_a_council_withheld_whole_is_protected_by_withholding_the_wales_total() -> None:
    # Wales (98 answers) minus the two published councils would give the first council's figure.
    # Withholding the Wales figure costs one cell; withholding another council's total would in turn
    # expose that council's groups.
    table = _statement_table()
    out = _withhold(table, _statement_relations(table), ["pct_agree"])
    withheld = out.loc[out["status"] == C, ["gss_code", "recipient_group"]].apply(tuple, axis=1).tolist()
    assert withheld == [
        ("W06000001", "all"),
        ("W06000001", "elected_members"),
        ("W06000001", "officers"),
        ("W92000004", "all"),
    ]


def test_relations_are_built_from_the_table() -> None:
    table = _statement_table()
    relations = _statement_relations(table)
    assert Relation(0, (1, 2)) in relations
    assert Relation(9, (0, 3, 6)) in relations
    assert len(relations) == 4  # three councils, and Wales for all respondents (no Wales group rows)


def test_derivable_cells_by_hand() -> None:
    total_of_two = [Relation(0, (1, 2))]
    assert derivable_cells(total_of_two, np.array([False, False, True])) == {2}
    assert derivable_cells(total_of_two, np.array([False, True, True])) == set()
    # Two relations sharing a cell: B follows from the second, then A from the first.
    chain = [Relation(0, (1, 2)), Relation(3, (2, 4))]
    assert derivable_cells(chain, np.array([False, True, True, False, False])) == {1, 2}
    assert derivable_cells(chain, np.array([False, True, True, False, True])) == set()


def test_cells_derivable_only_by_combining_relations_are_found_and_protected() -> None:
    # A + B, A + C and B + C published: every relation has two unknowns, yet all three follow.
    triangle = [Relation(3, (0, 1)), Relation(4, (0, 2)), Relation(5, (1, 2))]
    unknown = np.array([True, True, True, False, False, False])
    assert derivable_cells(triangle, unknown) == {0, 1, 2}
    n_valid = np.array([5, 6, 7, 11, 12, 13])
    withheld = secondary_withheld(triangle, n_valid < THRESHOLD, n_valid)
    assert derivable_cells(triangle, withheld) == set()
    assert withheld[:3].all()
    assert withheld[3:].sum() == 1


def _determined_by_rank(relations: list[Relation], unknown: np.ndarray) -> set[int]:
    """Independent check: cell j is determined when adding e_j to the system does not raise its rank."""
    columns = sorted({c for r in relations for c in r.cells if unknown[c]})
    if not columns:
        return set()
    system = np.array(
        [[(1.0 if c == r.total else -1.0) if c in r.cells else 0.0 for c in columns] for r in relations]
    )
    rank = np.linalg.matrix_rank(system)
    determined = set()
    for j, cell in enumerate(columns):
        probe = np.zeros(len(columns))
        probe[j] = 1.0
        if np.linalg.matrix_rank(np.vstack([system, probe])) == rank:
            determined.add(cell)
    return determined


@st.composite
def statement_tables(draw: st.DrawFn) -> pd.DataFrame:
    """Councils with two groups each (some groups empty), their totals and a Wales total."""
    councils = draw(st.integers(1, 6))
    rows = []
    for i in range(councils):
        code = f"W060000{i:02d}"
        officers, members = draw(st.integers(0, 30)), draw(st.integers(0, 14))
        rows += [(code, "all", officers + members), (code, "elected_members", members)]
        rows += [(code, "officers", officers)]
    rows.append(("W92000004", "all", sum(n for _, g, n in rows if g == "all")))
    table = pd.DataFrame(rows, columns=["gss_code", "recipient_group", "n_valid"])
    table["statement_id"] = "s"
    table["pct_agree"] = 50.0
    return table


@settings(max_examples=60)
@given(statement_tables())
def test_suppression_never_leaves_a_cell_derivable(table: pd.DataFrame) -> None:
    relations = _statement_relations(table)
    out = _withhold(table, relations, ["pct_agree"])
    withheld = (out["status"] == C).to_numpy()
    has_value = (table["n_valid"] > 0).to_numpy()
    assert withheld[(table["n_valid"] < THRESHOLD).to_numpy()].all()  # every small base withheld
    assert not _determined_by_rank(relations, withheld & has_value)
    for relation in relations:  # and so no single relation has exactly one withheld figure
        assert sum(withheld[c] and has_value[c] for c in relation.cells) != 1
    assert out.loc[withheld, "pct_agree"].isna().all()
    assert out.loc[~withheld, "pct_agree"].notna().all()


def test_an_unrelated_table_gets_primary_suppression_only() -> None:
    table = pd.DataFrame({"n_valid": [750, 9], "pct_yes": [36.9, 10.0], "flag": [True, False]})
    out = _withhold(table, [], ["pct_yes", "flag"])
    assert out["status"].tolist() == ["", C]
    assert out["pct_yes"].tolist()[0] == pytest.approx(36.9)
    assert str(out["flag"].dtype) == "boolean"
    assert pd.isna(out["flag"].iloc[1])
