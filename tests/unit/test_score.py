"""Scoring (docs/methodology.md): response rates, levels, equal group weights, posterior intervals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from maturity.rounding import decimals_within_level, round_number, whole_percent
from maturity.settings import load_settings
from tasks.score import (
    LEVELS,
    GroupSample,
    assign_level,
    cell_rng,
    compute_maturity_levels,
    compute_response_rates,
    compute_theme_summary,
    count_answers,
    count_respondents,
    draw_group_means,
    national_level_distribution,
    summarise_cell,
    summarise_wales_response_rates,
)

METHOD = load_settings().maturity


def _respondents(gss: str, group: str, count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {"gss_code": gss, "recipient_group": group, "response_id": [f"{gss}{group}{i}" for i in range(count)]}
    )


def test_response_rates_reproduce_the_reference_table() -> None:
    invitations = pd.DataFrame(
        {
            "gss_code": ["W06000004"] * 3,
            "recipient_group": ["officers", "officers", "elected_members"],
            "tool_id": ["leadership", "service_managers", "elected_members"],
            "invited": [33, 100, 47],
        }
    )
    respondents = pd.concat(
        [_respondents("W06000004", "officers", 67), _respondents("W06000004", "elected_members", 9)]
    )
    council_rates = compute_response_rates(invitations, count_respondents(respondents))
    rates = pd.concat([council_rates, summarise_wales_response_rates(council_rates)])
    rates = rates.set_index(["gss_code", "recipient_group"])
    figures = {
        group: (
            int(rates.at[("W06000004", group), "invited"]),
            int(rates.at[("W06000004", group), "responses"]),
        )
        for group in ("officers", "elected_members", "total")
    }
    assert figures == {"officers": (133, 67), "elected_members": (47, 9), "total": (180, 76)}
    assert [whole_percent(*reversed(figures[g])) for g in ("officers", "elected_members", "total")] == [
        50,
        19,
        42,
    ]
    assert rates.at[("W92000004", "total"), "responses"] == 76


def test_council_with_no_responses_in_a_group_has_rate_zero_not_missing() -> None:
    invitations = pd.DataFrame(
        {
            "gss_code": ["W06000001"] * 2,
            "recipient_group": ["officers", "elected_members"],
            "tool_id": ["leadership", "elected_members"],
            "invited": [10, 30],
        }
    )
    rates = compute_response_rates(invitations, count_respondents(_respondents("W06000001", "officers", 4)))
    members = rates[(rates.gss_code == "W06000001") & (rates.recipient_group == "elected_members")]
    assert members["responses"].item() == 0
    assert members["response_rate"].item() == 0


def test_figures_round_half_away_from_zero() -> None:
    assert whole_percent(1, 8) == 13  # 12.5 -> 13, where round() would give 12
    assert round_number(2.25, 1) == 2.3
    assert round_number(-0.125, 2) == -0.13  # a negative gap rounds away from zero too
    assert whole_percent(5, 0) == 0


def test_a_printed_mean_never_crosses_its_level_cut_off() -> None:
    cut_offs = (METHOD.level_2_from, METHOD.level_3_from)
    assert decimals_within_level(187 / 125, cut_offs, 2) == 3  # 1.496: level 1, not "1.50"
    assert round_number(187 / 125, 3) == 1.496
    assert decimals_within_level(1.5, cut_offs, 2) == 2  # on the cut-off: level 2, printed 1.50
    assert decimals_within_level(1.494, cut_offs, 2) == 2  # 1.49 is on the right side already
    assert decimals_within_level(2.4999, cut_offs, 2) == 4


@pytest.mark.parametrize(
    ("mean", "level"), [(1.0, 1), (1.4999, 1), (1.5, 2), (2.4999, 2), (2.5, 3), (3.0, 3)]
)
def test_level_boundaries(mean: float, level: int) -> None:
    assert assign_level(mean, METHOD) == level


def test_no_valid_answers_gives_no_level() -> None:
    assert assign_level(float("nan"), METHOD) is None


def _level_answers(gss: str, characteristic: str, group: str, answers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gss_code": gss,
            "recipient_group": group,
            "item_type": "level",
            "item_id": characteristic,
            "answer": answers,
            "response_id": [f"{group}-{i}" for i in range(len(answers))],
        }
    )


def test_groups_weigh_equally_and_dont_know_is_left_out() -> None:
    answers = pd.concat(
        [
            # 20 officers: mean 1.5 (10 at level 1, 10 at level 2), plus 5 don't knows.
            _level_answers("W06000004", "leadership", "officers", ["1"] * 10 + ["2"] * 10 + ["DK"] * 5),
            # 10 members all at level 3.
            _level_answers("W06000004", "leadership", "elected_members", ["3"] * 10),
        ]
    )
    table = compute_maturity_levels(count_answers(answers), "2018").set_index("recipient_group")
    assert table.at["officers", "mean_level"] == pytest.approx(1.5)
    assert table.at["officers", "n_dont_know"] == 5
    assert table.at["officers", "n_valid"] == 20
    assert table.at["elected_members", "mean_level"] == pytest.approx(3.0)
    # Equal weights give 2.25, not the pooled 2.0 (30 answers: 10x1, 10x2, 10x3).
    assert table.at["all", "mean_level"] == pytest.approx(2.25)
    assert table.at["all", "level"] == 2
    assert table.at["all", "share_level_3"] == pytest.approx(0.5)
    assert not table.at["all", "low_base"]


def test_small_groups_are_flagged_low_base() -> None:
    answers = pd.concat(
        [
            _level_answers("W06000004", "open_data", "officers", ["1"] * 30),
            _level_answers("W06000004", "open_data", "elected_members", ["2"] * 9),
        ]
    )
    table = compute_maturity_levels(count_answers(answers), "2018").set_index("recipient_group")
    assert bool(table.at["elected_members", "low_base"])
    assert not table.at["officers", "low_base"]
    # All weighs the groups equally: as precise as 4 / (1/30 + 1/9) = 27.7 answers, not a low base.
    assert not table.at["all", "low_base"]


def test_all_respondents_is_a_low_base_when_its_effective_base_is_small() -> None:
    answers = pd.concat(
        [
            _level_answers("W06000004", "open_data", "officers", ["1"] * 30),
            _level_answers("W06000004", "open_data", "elected_members", ["2"] * 2),
        ]
    )
    table = compute_maturity_levels(count_answers(answers), "2018").set_index("recipient_group")
    assert bool(table.at["all", "low_base"])  # 4 / (1/30 + 1/2) = 7.5 answers


def test_group_with_only_dont_know_does_not_count_in_the_combined_mean() -> None:
    answers = pd.concat(
        [
            _level_answers("W06000004", "open_data", "officers", ["2"] * 12),
            _level_answers("W06000004", "open_data", "elected_members", ["DK"] * 4),
        ]
    )
    table = compute_maturity_levels(count_answers(answers), "2018").set_index("recipient_group")
    assert table.at["all", "mean_level"] == pytest.approx(2.0)
    assert np.isnan(table.at["elected_members", "mean_level"])
    assert pd.isna(table.at["elected_members", "level"])


def test_posterior_draws_are_seeded_per_cell() -> None:
    sample = GroupSample(np.array([20, 30, 10, 5]))
    first = draw_group_means(sample, METHOD, cell_rng(1, "2018", "W06000004", "leadership"))
    again = draw_group_means(sample, METHOD, cell_rng(1, "2018", "W06000004", "leadership"))
    other = draw_group_means(sample, METHOD, cell_rng(1, "2018", "W06000005", "leadership"))
    assert np.array_equal(first.pooled, again.pooled)
    assert not np.array_equal(first.pooled, other.pooled)


def test_with_no_one_at_level_2_the_interval_has_its_closed_form() -> None:
    """Mean = 1 + 2 x share at level 3, whose tail posteriors are beta distributions."""
    n_1, n_3 = 9, 4
    rows = summarise_cell(
        {
            "officers": GroupSample(np.array([n_1, 0, n_3, 0])),
            "elected_members": GroupSample(np.zeros(4, int)),
        },
        dataclasses.replace(METHOD, posterior_draws=40_000),
        np.random.default_rng(3),
    )
    officers = rows[0]
    lower = 1 + 2 * beta.ppf(0.025, n_3, n_1 + 0.5)
    upper = 1 + 2 * beta.ppf(0.975, n_3 + 0.5, n_1)
    assert officers["ci_lower"] == pytest.approx(lower, abs=0.01)
    assert officers["ci_upper"] == pytest.approx(upper, abs=0.01)


def test_level_probabilities_sum_to_one_and_name_a_range_when_unsure() -> None:
    sure = {
        "officers": GroupSample(np.array([40, 2, 0, 0])),
        "elected_members": GroupSample(np.zeros(4, int)),
    }
    unsure = {
        "officers": GroupSample(np.array([6, 6, 0, 0])),
        "elected_members": GroupSample(np.zeros(4, int)),
    }
    for samples, likely in ((sure, (1, 1)), (unsure, (1, 2))):
        row = summarise_cell(samples, METHOD, np.random.default_rng(5))[0]
        probabilities = [row[f"p_level_{k}"] for k in (1, 2, 3)]
        assert sum(probabilities) == pytest.approx(1.0)
        assert (row["likely_level_low"], row["likely_level_high"]) == likely
        assert int(np.argmax(probabilities)) + 1 == row["level"]


def test_interval_contains_the_mean_and_narrows_with_more_answers() -> None:
    small = pd.concat(
        [
            _level_answers("W06000004", "leadership", "officers", ["1", "2", "3", "2"] * 5),
            _level_answers("W06000004", "leadership", "elected_members", ["1", "2"] * 5),
        ]
    )
    large = pd.concat(
        [
            _level_answers("W06000004", "leadership", "officers", ["1", "2", "3", "2"] * 50),
            _level_answers("W06000004", "leadership", "elected_members", ["1", "2"] * 50),
        ]
    )
    narrow = compute_maturity_levels(count_answers(large), "2018").set_index("recipient_group").loc["all"]
    wide = compute_maturity_levels(count_answers(small), "2018").set_index("recipient_group").loc["all"]
    for row in (narrow, wide):
        assert row["ci_lower"] <= row["mean_level"] <= row["ci_upper"]
    assert (narrow["ci_upper"] - narrow["ci_lower"]) < (wide["ci_upper"] - wide["ci_lower"]) / 2


def test_national_distribution_counts_councils_per_level() -> None:
    maturity = pd.DataFrame(
        {
            "gss_code": ["W06000001", "W06000002", "W06000003", "W06000001"],
            "characteristic": ["leadership"] * 3 + ["open_data"],
            "recipient_group": ["all"] * 4,
            "level": pd.array([1, 2, 2, 3], dtype="Int8"),
        }
    )
    table = national_level_distribution(maturity).set_index("characteristic")
    assert table.loc["leadership"].tolist() == [1, 2, 0]
    assert table.loc["open_data"].tolist() == [0, 0, 1]


def test_maturity_intervals_are_reproducible_for_a_seed() -> None:
    answers = pd.concat(
        [
            _level_answers("W06000004", "leadership", "officers", ["1", "2", "3", "2", "DK"] * 7),
            _level_answers("W06000004", "leadership", "elected_members", ["1", "2", "2"] * 4),
            _level_answers("W06000005", "leadership", "officers", ["2", "3"] * 9),
        ]
    )
    first = compute_maturity_levels(count_answers(answers), "2018")
    again = compute_maturity_levels(count_answers(answers), "2018")
    pd.testing.assert_frame_equal(first, again)
    # Dropping another council changes nothing for this one: each cell has its own seed.
    alone = compute_maturity_levels(count_answers(answers[answers["gss_code"] == "W06000004"]), "2018")
    pd.testing.assert_frame_equal(alone, first[first["gss_code"] == "W06000004"].reset_index(drop=True))
    other_wave = compute_maturity_levels(count_answers(answers), "2019")
    assert not np.allclose(other_wave["ci_lower"], first["ci_lower"], equal_nan=True)


def test_theme_summary_averages_its_characteristics_equally() -> None:
    maturity = pd.DataFrame(
        {
            "gss_code": "W06000004",
            "characteristic": ["leadership", "corporate_standards", "integrated_customer_data", "open_data"],
            "recipient_group": "all",
            "mean_level": [1.2, 2.0, 2.2, 2.6],
            "level": pd.array([1, 2, 2, 3], dtype="Int8"),
            "n_valid": [30, 31, 12, 40],
            "low_base": [False, False, False, True],
        }
    )
    table = compute_theme_summary(maturity).set_index("theme")
    vision = table.loc["vision_leadership_culture"]
    assert vision["mean_level"] == pytest.approx((1.2 + 2.0 + 2.2) / 3)
    assert vision["level"] == 2
    assert [vision[f"characteristics_level_{k}"] for k in (1, 2, 3)] == [1, 2, 0]
    assert vision["min_n_valid"] == 12
    assert not vision["low_base"]
    evidence = table.loc["evidence_based_decisions"]
    assert evidence["characteristics"] == 1
    assert evidence["level"] == 3
    assert evidence["low_base"]


@st.composite
def group_samples(draw: st.DrawFn) -> dict[str, GroupSample]:
    """Answer counts (levels 1-3, don't know) for both groups, at least one valid answer in all."""
    counts = st.lists(st.integers(0, 40), min_size=4, max_size=4)
    samples = {g: GroupSample(np.array(draw(counts))) for g in ("officers", "elected_members")}
    assume(any(s.n_valid for s in samples.values()))
    return samples


@settings(max_examples=40)
@given(group_samples(), st.integers(0, 2**31 - 1))
def test_shares_sum_to_one_and_intervals_contain_the_mean(samples: dict[str, GroupSample], seed: int) -> None:
    method = dataclasses.replace(METHOD, posterior_draws=400)
    rows = summarise_cell(samples, method, np.random.default_rng(seed))
    for row in rows:
        if row["n_valid"] == 0:
            assert np.isnan(row["mean_level"])
            continue
        shares = [row[f"share_level_{k}"] for k in (1, 2, 3)]
        assert sum(shares) == pytest.approx(1.0)
        assert sum(round(100 * s, 1) for s in shares) == pytest.approx(100, abs=0.15)
        assert row["ci_lower"] <= row["mean_level"] + 1e-12
        assert row["mean_level"] <= row["ci_upper"] + 1e-12
        assert 1 <= row["ci_lower"] <= row["ci_upper"] <= 3


@pytest.mark.parametrize(
    "officers", [[0, 0, 0, 0], [2, 4, 1, 0], [1, 3, 2, 1], [7, 0, 0, 0], [40, 80, 22, 3]]
)
def test_a_groups_published_interval_and_odds_carry_nothing_of_the_other_groups_counts(
    officers: list[int],
) -> None:
    # One generator for the cell let the officers' draws use up a number of random values that depends on
    # their counts (gamma variates are drawn by rejection), so the members' interval and level odds, with
    # the public seed and code, told a reader which withheld officers' counts were possible.
    def members_row(officer_counts: list[int]) -> dict:
        samples = {
            "officers": GroupSample(np.array(officer_counts)),
            "elected_members": GroupSample(np.array([6, 12, 11, 2])),
        }
        rows = summarise_cell(
            samples, METHOD, cell_rng(METHOD.posterior_seed, "2018", "W06000011", "leadership")
        )
        return next(r for r in rows if r["recipient_group"] == "elected_members")

    assert members_row(officers) == members_row([5, 5, 5, 0])


@pytest.mark.parametrize(
    "counts", [[18, 15, 1, 0], [34, 22, 4, 3], [1, 1, 0, 0], [0, 1, 1, 0], [10, 20, 30, 0]]
)
def test_a_mean_exactly_on_a_cut_off_takes_the_higher_level(counts: list[int]) -> None:
    # 18, 15 and 1 answers at levels 1-3 have a mean of exactly 51/34 = 1.5, which floating point made
    # 1.4999999999999998: level 1, against the rule "level 2 from 1.5" (found by the attack's own model).
    sample = GroupSample(np.array(counts))
    exact = sum(level * count for level, count in zip(LEVELS, counts[:3], strict=True)) / sum(counts[:3])
    expected = 1 if exact < METHOD.level_2_from else 2 if exact < METHOD.level_3_from else 3
    rows = summarise_cell(
        {"officers": sample, "elected_members": GroupSample(np.zeros(4, int))},
        METHOD,
        cell_rng(METHOD.posterior_seed, "2018", "W06000001", "leadership"),
    )
    officers = next(r for r in rows if r["recipient_group"] == "officers")
    assert officers["level"] == expected
    assert officers["mean_level"] == pytest.approx(exact, abs=1e-12)
