"""The cold-start benchmark's pandas script computes the pipeline's own response rates and mean levels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.by_hand import compute_by_hand, main
from maturity.settings import TOTAL_GROUP, WALES_GSS_CODE
from tests.unit.conftest import ScoredStudy

RATE_KEYS = ["gss_code", "recipient_group"]
LEVEL_KEYS = ["gss_code", "characteristic", "recipient_group"]
LEVEL_COUNTS = ["n_level_1", "n_level_2", "n_level_3", "n_dont_know"]


@pytest.fixture(scope="module")
def by_hand(demo_study: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The script's response rates and level counts for the demo study."""
    return compute_by_hand(demo_study)


def council_rows(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Councils' rows only (no Wales, no council totals), indexed and sorted by keys."""
    rows = frame[(frame["gss_code"] != WALES_GSS_CODE) & (frame["recipient_group"] != TOTAL_GROUP)]
    return rows.set_index(keys).sort_index()


def test_response_rates_match_the_pipeline(by_hand: tuple, scored_demo: ScoredStudy) -> None:
    """Invited, responses and rate per council x group are the scored response_rates table's."""
    mine = council_rows(by_hand[0], RATE_KEYS)
    theirs = council_rows(scored_demo.scores.response_rates, RATE_KEYS)
    columns = ["invited", "responses", "response_rate"]
    pd.testing.assert_frame_equal(mine[columns], theirs[columns], check_dtype=False)


def test_level_counts_and_means_match_the_pipeline(by_hand: tuple, scored_demo: ScoredStudy) -> None:
    """Level counts and mean level per council x characteristic x group (and all) are the pipeline's."""
    mine = council_rows(by_hand[1], LEVEL_KEYS)
    theirs = council_rows(scored_demo.scores.maturity_levels, LEVEL_KEYS)
    columns = [*LEVEL_COUNTS, "mean_level"]
    pd.testing.assert_frame_equal(mine[columns], theirs[columns], check_dtype=False)


def test_script_writes_both_tables(demo_study: Path, tmp_path: Path) -> None:
    """Run as a script it writes the response rates and level counts as CSV files."""
    main(demo_study, tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["maturity_levels.csv", "response_rates.csv"]
