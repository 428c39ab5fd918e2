"""The maturity intervals keep at least 0.93 actual coverage for a nominal 95% at n >= 10 (seeded).

Single groups by exact enumeration of every answer count; all respondents and the officer-member gap
by simulation. The full table (n = 70 too) is in docs/methodology.md (benchmarks/interval_coverage.py).
"""

from __future__ import annotations

import pytest

from benchmarks.interval_coverage import (
    PATTERNS,
    all_respondents_coverage,
    gap_coverage,
    single_group_coverage,
)
from maturity.settings import load_settings

METHOD = load_settings().maturity
LEAST_COVERAGE = 0.93
SIMULATED = 500  # samples per simulated cell: a coverage of 0.95 has a standard error of 0.01


@pytest.mark.parametrize("n", [10, 30])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_a_single_group_interval_keeps_its_coverage(pattern: str, n: int) -> None:
    coverage, width = single_group_coverage(PATTERNS[pattern], n, METHOD)
    assert coverage >= LEAST_COVERAGE, f"{pattern} at n = {n}: coverage {coverage:.3f}"
    assert width < 1.5  # an interval over most of the 1-3 scale would cover by saying nothing


@pytest.mark.parametrize(
    ("officers", "members"),
    [
        ("extreme (92% at 1)", "extreme (92% at 1)"),
        ("extreme (97% at 3)", "balanced"),
        ("skewed", "extreme (97% at 3)"),
        ("polarised (1 or 3)", "extreme (92% at 2)"),
    ],
)
def test_the_all_respondents_interval_keeps_its_coverage(officers: str, members: str) -> None:
    for sizes in ((70, 10), (10, 10)):
        coverage = all_respondents_coverage(PATTERNS[officers], PATTERNS[members], sizes, METHOD, SIMULATED)
        assert coverage >= LEAST_COVERAGE, f"{officers} + {members} at {sizes}: coverage {coverage:.3f}"


@pytest.mark.parametrize(
    ("officers", "members"), [("skewed", "extreme (97% at 3)"), ("balanced", "balanced")]
)
def test_the_gap_interval_keeps_its_coverage(officers: str, members: str) -> None:
    coverage = gap_coverage(PATTERNS[officers], PATTERNS[members], (70, 10), METHOD, SIMULATED)
    assert coverage >= LEAST_COVERAGE, f"gap {officers} - {members}: coverage {coverage:.3f}"
