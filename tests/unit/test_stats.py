"""Interval and weighting statistics against statsmodels and hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact, ttest_ind_from_stats
from statsmodels.stats.proportion import proportion_confint

from maturity.stats import (
    design_effect,
    false_discovery_flags,
    fisher_p_value,
    kish_effective_size,
    newcombe_difference_interval,
    normal_quantile,
    tastle_wierman_consensus,
    welch_p_value,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "size"),
    [(0, 1), (1, 1), (0, 9), (4, 9), (9, 9), (15, 50), (67, 133), (266, 750), (1, 1000)],
)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(successes: int, size: int, confidence: float) -> None:
    lower, upper = wilson_interval(successes / size, size, confidence)
    expected = proportion_confint(successes, size, alpha=1 - confidence, method="wilson")
    assert (float(lower), float(upper)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("share", "effective"), [(0.369, 668.7), (0.1028, 668.7), (0.5, 12.3)])
def test_wilson_on_an_effective_sample_size_matches_statsmodels(share: float, effective: float) -> None:
    lower, upper = wilson_interval(share, effective, 0.95)
    expected = proportion_confint(share * effective, effective, alpha=0.05, method="wilson")
    assert (float(lower), float(upper)) == pytest.approx(expected, abs=1e-12)


def test_wilson_is_vectorised_and_empty_bases_give_no_interval() -> None:
    lower, upper = wilson_interval(np.array([0.2, np.nan]), np.array([10, 0]), 0.95)
    assert lower[0] == pytest.approx(proportion_confint(2, 10, method="wilson")[0])
    assert np.isnan(lower[1])
    assert np.isnan(upper[1])


def test_normal_quantile() -> None:
    assert normal_quantile(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_kish_effective_size_and_design_effect_by_hand() -> None:
    # Weights 1, 1, 2, 4: (sum w)^2 / sum w^2 = 64 / 22.
    weights = np.array([1.0, 1.0, 2.0, 4.0])
    assert kish_effective_size(weights) == pytest.approx(64 / 22)
    assert design_effect(weights) == pytest.approx(4 / (64 / 22))
    assert kish_effective_size(np.full(7, 3.5)) == pytest.approx(7)
    assert design_effect(np.full(7, 3.5)) == pytest.approx(1)


def test_consensus_is_one_when_all_agree_and_zero_when_split_between_extremes() -> None:
    levels = np.array([1.0, 2.0, 3.0])
    assert tastle_wierman_consensus(np.array([0, 1, 0]), levels) == pytest.approx(1.0)
    assert tastle_wierman_consensus(np.array([0.5, 0, 0.5]), levels) == pytest.approx(0.0)
    assert tastle_wierman_consensus(np.full(3, 1 / 3), levels) == pytest.approx(1 / 3)
    # Tastle and Wierman (2007): mean 1.5 from 60/30/10 gives 1 - (0.9 x 0.415 + 0.1 x 2).
    assert tastle_wierman_consensus(np.array([0.6, 0.3, 0.1]), levels) == pytest.approx(
        1 + 0.9 * np.log2(0.75) + 0.1 * np.log2(0.25)
    )


def test_welch_matches_scipy_for_two_groups() -> None:
    expected = ttest_ind_from_stats(1.8, 0.7**0.5, 12, 2.1, 0.5**0.5, 300, equal_var=False).pvalue
    got = welch_p_value(np.array([1.8, 2.1]), np.array([0.7, 0.5]), np.array([12, 300]), np.array([1, -1]))
    assert got == pytest.approx(expected)
    assert np.isnan(
        welch_p_value(np.array([1.0, 2.0]), np.array([0, 0.5]), np.array([1, 30]), np.array([1, -1]))
    )


def test_benjamini_hochberg_flags_by_rank() -> None:
    flags = false_discovery_flags(np.array([0.001, 0.04, 0.03, np.nan, 0.2]), 0.05)
    # Four tested, thresholds 0.0125, 0.025, 0.0375, 0.05 by rank: 0.03 (2nd) and 0.04 (3rd) miss theirs.
    assert flags.tolist() == [True, False, False, False, False]


def test_newcombe_matches_his_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table II example (a): 56/70 - 48/80.
    lower, upper = newcombe_difference_interval(56 / 70, 70, 48 / 80, 80, 0.95)
    assert (lower, upper) == pytest.approx((0.0524, 0.3339), abs=5e-4)


def test_fisher_p_value_is_scipys() -> None:
    assert fisher_p_value(9, 10, 40, 100) == pytest.approx(fisher_exact([[9, 1], [40, 60]]).pvalue)


@settings(max_examples=60)
@given(
    size=st.integers(min_value=1, max_value=5000),
    fraction=st.floats(min_value=0, max_value=1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_wilson_interval_contains_its_estimate(size: int, fraction: float, confidence: float) -> None:
    share = round(fraction * size) / size
    lower, upper = wilson_interval(share, size, confidence)
    assert 0 <= lower <= share <= upper <= 1


@settings(max_examples=40)
@given(st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=200))
def test_effective_size_is_between_one_and_n(weights: list[float]) -> None:
    effective = kish_effective_size(np.array(weights))
    assert 1 - 1e-9 <= effective <= len(weights) + 1e-9
