"""Raking weights against R's survey::rake (stored fixture), margins, checks and diagnostics."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maturity.stats import kish_effective_size
from maturity.weighting import (
    LargeWeightWarning,
    WeightingError,
    population_margins,
    rake_weights,
    summarise_weights,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "raking"
MARGINS = ["gss_code", "age_band", "sex"]
TOLERANCE = 1e-10


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """The sample, population cells, R's weights and R's estimates written by make_reference.R."""
    sample = pd.read_csv(FIXTURES / "sample.csv", dtype=str)
    population = pd.read_csv(FIXTURES / "population.csv", dtype={"population": "int64"})
    r_weights = pd.read_csv(FIXTURES / "r_weights.csv", dtype={"respondent_id": str})
    sample = sample.merge(r_weights, on="respondent_id", validate="one_to_one")
    estimates = pd.read_csv(FIXTURES / "r_estimates.csv", dtype=str).set_index("statistic")["value"]
    return sample, population, estimates.to_dict()


def test_weights_match_r_survey_rake(reference) -> None:
    sample, population, _ = reference
    ours = rake_weights(sample, population_margins(population, MARGINS), TOLERANCE, 1000)
    r_weights = sample["weight"].to_numpy()
    assert np.max(np.abs(ours - r_weights) / r_weights) < 1e-8
    assert np.ptp(r_weights) > 1000  # the fixture's weights really vary, so the match means something


def test_weighted_share_and_effective_size_match_r(reference) -> None:
    sample, population, r_estimates = reference
    weights = rake_weights(sample, population_margins(population, MARGINS), TOLERANCE, 1000)
    share_yes = weights[(sample["answer"] == "yes").to_numpy()].sum() / weights.sum()
    assert share_yes == pytest.approx(float(r_estimates["share_yes"]), abs=1e-9)
    assert kish_effective_size(weights) == pytest.approx(float(r_estimates["kish_effective_size"]), abs=1e-6)


def test_population_margins_sum_the_cells() -> None:
    population = pd.DataFrame(
        {
            "gss_code": ["A", "A", "B", "B"],
            "age_band": ["16-24", "65+", "16-24", "65+"],
            "sex": ["female", "male", "male", "female"],
            "population": [10, 20, 30, 40],
        }
    )
    margins = population_margins(population, MARGINS)
    assert margins == {
        "gss_code": {"A": 30.0, "B": 70.0},
        "age_band": {"16-24": 40.0, "65+": 60.0},
        "sex": {"female": 50.0, "male": 50.0},
    }


def _toy_sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gss_code": ["A", "A", "B", "B", "B"],
            "age_band": ["young", "old", "young", "old", "old"],
            "sex": ["female", "male", "male", "female", "male"],
        }
    )


def _toy_margins() -> dict[str, dict[str, float]]:
    return {
        "gss_code": {"A": 40.0, "B": 60.0},
        "age_band": {"young": 50.0, "old": 50.0},
        "sex": {"female": 45.0, "male": 55.0},
    }


def test_an_empty_margin_cell_is_a_clear_error() -> None:
    margins = _toy_margins()
    margins["gss_code"] = {"A": 30.0, "B": 50.0, "C": 20.0}
    with pytest.raises(WeightingError, match=r"gss_code C: population but no respondents"):
        rake_weights(_toy_sample(), margins, TOLERANCE, 100)


def test_respondents_outside_the_population_are_a_clear_error() -> None:
    margins = _toy_margins()
    margins["age_band"] = {"young": 100.0}
    with pytest.raises(WeightingError, match=r"age_band old: respondents but no population"):
        rake_weights(_toy_sample(), margins, TOLERANCE, 100)


def test_margins_for_different_populations_are_a_clear_error() -> None:
    margins = _toy_margins()
    margins["sex"] = {"female": 45.0, "male": 65.0}
    with pytest.raises(WeightingError, match="disagree on the total population"):
        rake_weights(_toy_sample(), margins, TOLERANCE, 100)


def test_no_convergence_is_a_clear_error() -> None:
    with pytest.raises(WeightingError, match=r"did not converge.*at most 1 iterations"):
        rake_weights(_toy_sample(), _toy_margins(), 1e-14, 1)


def test_a_weight_far_above_the_mean_warns_but_is_not_trimmed() -> None:
    weights = np.array([1.0] * 19 + [30.0])
    with pytest.warns(LargeWeightWarning, match="not trimmed"):
        summary = summarise_weights(weights, warn_above_mean_ratio=5)
    assert summary.max_weight == 30.0
    assert summary.max_to_mean == pytest.approx(30 / np.mean(weights))
    assert summary.design_effect == pytest.approx(20 * np.sum(weights**2) / np.sum(weights) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summarise_weights(np.array([1.0, 2.0, 3.0]), warn_above_mean_ratio=5)


@st.composite
def samples_and_populations(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random population of cells, and a sample holding every cell at least once plus random extras.

    With every cell present the margins can always be met, so raking must converge.
    """
    councils = [f"C{i}" for i in range(draw(st.integers(1, 4)))]
    bands = [f"B{i}" for i in range(draw(st.integers(1, 4)))]
    cells = pd.MultiIndex.from_product([councils, bands, ["female", "male"]], names=MARGINS).to_frame(
        index=False
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cells["population"] = rng.integers(50, 5000, len(cells))
    extra = cells.iloc[rng.integers(0, len(cells), draw(st.integers(0, 60)))]
    sample = pd.concat([cells, extra], ignore_index=True)[MARGINS]
    return sample, cells


@settings(max_examples=25)
@given(samples_and_populations())
def test_weights_reproduce_every_margin(case: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    sample, population = case
    margins = population_margins(population, MARGINS)
    weights = rake_weights(sample, margins, 1e-9, 2000)
    assert (weights > 0).all()
    for margin, totals in margins.items():
        achieved = pd.Series(weights).groupby(sample[margin].to_numpy()).sum()
        for level, total in totals.items():
            assert achieved[level] == pytest.approx(total, rel=1e-8)
