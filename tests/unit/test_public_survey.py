"""Public survey: raked national estimates on the demo study, diagnostics and clear failures."""

from __future__ import annotations

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from maturity.settings import load_settings
from tasks.contracts import DatasetError
from tasks.score import compute_public_survey_results, compute_survey_weights
from warehouse.store import read_table

# The demo study draws answers so that the population-weighted shares answering yes are these
# (config/demo.yaml public_survey_yes_share, the national results of the real study).
DEMO_TARGETS = {"q_effective_use": 0.36, "q_told_personal_data": 0.12}


@pytest.fixture(scope="module")
def survey_inputs(scored_demo) -> tuple[pd.DataFrame, pd.DataFrame]:
    wave = scored_demo.study.wave
    return (
        read_table(scored_demo.warehouse, "public_survey", wave),
        read_table(scored_demo.warehouse, "population", wave),
    )


def test_demo_estimates_recover_the_population_shares(scored_demo) -> None:
    results = scored_demo.scores.public_survey_results.set_index("question_id")
    assert set(results.index) == set(DEMO_TARGETS)
    for question, target in DEMO_TARGETS.items():
        row = results.loc[question]
        assert row["ci_lower"] <= target <= row["ci_upper"]
        assert row["share_yes"] == pytest.approx(target, abs=0.025)
        assert row["n_valid"] == 750
        assert row["gss_code"] == "W92000004"


def test_interval_is_wilson_on_the_effective_sample_size(scored_demo) -> None:
    for row in scored_demo.scores.public_survey_results.itertuples():
        expected = proportion_confint(
            row.share_yes * row.effective_size, row.effective_size, alpha=0.05, method="wilson"
        )
        assert (row.ci_lower, row.ci_upper) == pytest.approx(expected, abs=1e-12)
        assert row.design_effect == pytest.approx(row.n_valid / row.effective_size)
        assert 1 < row.design_effect < 2  # the demo sample is skewed, but not wildly
        assert row.weight_min < row.weight_max


def test_weights_reproduce_the_demo_population_margins(survey_inputs) -> None:
    survey, population = survey_inputs
    weighted = compute_survey_weights(survey, population)
    assert len(weighted) == weighted["respondent_id"].nunique() == 750
    for margin in load_settings().weighting.margins:
        achieved = weighted.groupby(margin)["weight"].sum()
        expected = population.groupby(margin)["population"].sum()
        pd.testing.assert_series_equal(achieved, expected.astype(float), rtol=1e-7, check_names=False)


def test_dont_know_stays_in_the_base_and_skipped_answers_do_not(survey_inputs) -> None:
    survey, population = survey_inputs
    question = survey["question_id"] == "q_effective_use"
    skipped = survey.copy()
    first_ten = skipped.index[question][:10]
    skipped.loc[first_ten, "answer"] = None
    results = compute_public_survey_results(skipped, population).set_index("question_id")
    assert results.loc["q_effective_use", "n_valid"] == 740
    assert results.loc["q_told_personal_data", "n_valid"] == 750
    full = compute_public_survey_results(survey, population).set_index("question_id")
    n_dont_know = (survey.loc[question, "answer"] == "dont_know").sum()
    assert full.loc["q_effective_use", "n_dont_know"] == n_dont_know > 0


def test_a_council_with_no_respondents_stops_the_run_clearly(survey_inputs) -> None:
    survey, population = survey_inputs
    without = survey[survey["gss_code"] != "W06000024"]
    with pytest.raises(DatasetError, match=r"gss_code W06000024: population but no respondents"):
        compute_public_survey_results(without, population)


def test_results_are_stored_in_the_warehouse(scored_demo) -> None:
    wave = scored_demo.study.wave
    stored = read_table(scored_demo.warehouse, "public_survey_results", wave)
    assert stored.sort_values("question_id")["share_yes"].tolist() == pytest.approx(
        scored_demo.scores.public_survey_results.sort_values("question_id")["share_yes"].tolist()
    )
    statements = read_table(scored_demo.warehouse, "statement_results", wave)
    assert len(statements) == len(scored_demo.scores.statement_results)
    assert "W92000004" in set(statements["gss_code"])
    themes = read_table(scored_demo.warehouse, "maturity_themes", wave)
    assert len(themes) == 22 * 4 * 3
