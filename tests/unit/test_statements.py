"""Statement results: % agree of valid answers, Wilson intervals, pooling and the comparison with Wales."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import proportion_confint

from tasks.score import (
    compare_statements,
    compute_statement_results_from_counts,
    count_answers,
    count_statement_answers,
    flag_comparisons,
)

WALES = "W92000004"


def _answers(gss: str, group: str, statement: str, answers: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gss_code": gss,
            "recipient_group": group,
            "item_type": "statement",
            "item_id": statement,
            "answer": answers,
            "response_id": [f"{gss}-{group}-{i}" for i in range(len(answers))],
        }
    )


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    answers = pd.concat(
        [
            # 6 answered, one don't know, one skipped: 3 of 5 valid agree (4 or 5).
            _answers("W06000001", "officers", "clear_vision", ["4", "5", "3", "DK", "2", "5", None]),
            _answers("W06000001", "elected_members", "clear_vision", ["1", "4", "DK"]),
            _answers("W06000002", "officers", "clear_vision", ["5"] * 40),
            _answers("W06000003", "officers", "clear_vision", ["1"] * 40),
            # A level answer is not a statement answer.
            pd.DataFrame(
                {
                    "gss_code": ["W06000001"],
                    "recipient_group": ["officers"],
                    "item_type": ["level"],
                    "item_id": ["leadership"],
                    "answer": ["3"],
                    "response_id": ["x"],
                }
            ),
        ]
    )
    # The scoring path: answers counted (as DuckDB counts the stored ones), then the statement results.
    counts = count_statement_answers(count_answers(answers))
    return compute_statement_results_from_counts(counts).set_index(["gss_code", "recipient_group"])


def test_agree_is_four_or_five_of_valid_answers(results: pd.DataFrame) -> None:
    officers = results.loc[("W06000001", "officers")]
    assert (officers["n_answered"], officers["n_dont_know"], officers["n_valid"]) == (6, 1, 5)
    assert officers["n_agree"] == 3
    assert officers["share_agree"] == pytest.approx(0.6)
    assert officers["theme"] == "vision_leadership_culture"


def test_all_respondents_are_pooled_not_averaged(results: pd.DataFrame) -> None:
    pooled = results.loc[("W06000001", "all")]
    assert (pooled["n_valid"], pooled["n_agree"]) == (7, 4)
    assert pooled["share_agree"] == pytest.approx(4 / 7)  # equal weights would give (0.6 + 0.5) / 2


def test_wales_pools_every_council_by_group_and_in_total(results: pd.DataFrame) -> None:
    assert (results.loc[(WALES, "officers"), "n_valid"], results.loc[(WALES, "officers"), "n_agree"]) == (
        85,
        43,
    )
    assert results.loc[(WALES, "elected_members"), "n_valid"] == 2
    assert (results.loc[(WALES, "all"), "n_valid"], results.loc[(WALES, "all"), "n_agree"]) == (87, 44)


def test_intervals_are_wilson_intervals(results: pd.DataFrame) -> None:
    for row in results.itertuples():
        expected = proportion_confint(row.n_agree, row.n_valid, alpha=0.05, method="wilson")
        assert (row.ci_lower, row.ci_upper) == pytest.approx(expected, abs=1e-12)


def test_each_council_is_tested_against_the_rest_of_wales_with_fisher(results: pd.DataFrame) -> None:
    comparisons = compare_statements(results.reset_index()).set_index(["council", "recipient_group"])
    strong = comparisons.loc[("W06000002", "officers")]
    # 40 of 40 agree against the other councils' 3 of 45 (Wales 43 of 85 minus this council).
    assert strong["rest_of_wales"] == pytest.approx(3 / 45)
    assert strong["p_value"] == pytest.approx(fisher_exact([[40, 0], [3, 42]]).pvalue)
    weak = comparisons.loc[("W06000001", "officers")]
    assert weak["p_value"] == pytest.approx(fisher_exact([[3, 2], [40, 40]]).pvalue)
    assert WALES not in comparisons.index.get_level_values("council")


def test_flags_control_the_false_discovery_rate_within_each_council() -> None:
    comparisons = pd.DataFrame(
        {
            "council": ["A"] * 4 + ["B"],
            "p_value": [0.01, 0.02, 0.03, 0.5, 0.04],
        }
    )
    flags = flag_comparisons(comparisons, pd.Series(True, index=comparisons.index))
    # A: BH thresholds 0.0125, 0.025, 0.0375, 0.05 - the first three pass; B alone: 0.04 <= 0.05.
    assert flags.tolist() == [True, True, True, False, True]
    # Leaving a comparison out of the family changes the others' thresholds.
    tested = pd.Series([True, True, True, True, False])
    assert not flag_comparisons(comparisons, tested).iloc[4]
