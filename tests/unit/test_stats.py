"""Interval and weighting statistics against statsmodels and hand-worked values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.proportion import proportion_confint

from maturity.stats import (
    design_effect,
    intervals_separate,
    kish_effective_size,
    normal_quantile,
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


def test_intervals_separate_only_when_they_do_not_overlap() -> None:
    gap = intervals_separate(
        np.array([0.1, 0.1, 0.1, np.nan]),
        np.array([0.2, 0.3, 0.2, np.nan]),
        np.array([0.25, 0.2, 0.2, 0.1]),
        np.array([0.4, 0.4, 0.4, 0.2]),
    )
    # Touching intervals (0.2 and 0.2) overlap; a missing interval is no evidence of a difference.
    assert gap.tolist() == [True, False, False, False]


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
