"""Actual coverage of the maturity intervals, by exact enumeration and simulation (docs/methodology.md).

Single groups: every possible answer count at n answers, weighted by its multinomial probability, so
the coverage is exact up to the posterior's Monte Carlo error. All respondents (groups weighted
equally), the officer-member gap and the change between two waves: seeded simulation. Run
`python -m benchmarks.interval_coverage` to print the tables.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.stats import multinomial

from maturity.settings import ALL_GROUPS, MaturityMethod, load_settings
from maturity.stats import newcombe_difference_interval
from tasks.score import (
    LEVELS,
    GroupSample,
    draw_cell_means,
    draw_group_means,
    mean_gap,
    summarise_cell,
    tail_difference_interval,
)

# True shares of levels 1, 2, 3 among valid answers.
PATTERNS = {
    "balanced": (1 / 3, 1 / 3, 1 / 3),
    "skewed": (0.6, 0.3, 0.1),
    "extreme (92% at 1)": (0.92, 0.04, 0.04),
    "extreme (97% at 3)": (0.01, 0.02, 0.97),
    "extreme (92% at 2)": (0.04, 0.92, 0.04),
    "polarised (1 or 3)": (0.5, 0.0, 0.5),
}
EMPTY = GroupSample(np.zeros(4, dtype="int64"))
GROUPS = ("officers", "elected_members")


def true_mean(shares: tuple[float, ...]) -> float:
    """The mean level of a share pattern."""
    return float(np.dot(shares, LEVELS))


def single_group_coverage(
    shares: tuple[float, ...], n: int, method: MaturityMethod, seed: int = 1
) -> tuple[float, float]:
    """Exact coverage and mean width of one group's interval at n answers (counts below 1e-7 skipped)."""
    rng = np.random.default_rng(seed)
    mean = true_mean(shares)
    covered = width = 0.0
    for low, middle in itertools.product(range(n + 1), repeat=2):
        if low + middle > n:
            continue
        counts = (low, middle, n - low - middle)
        probability = float(multinomial.pmf(counts, n, shares))
        if probability < 1e-7:
            continue
        sample = GroupSample(np.array([*counts, 0], dtype="int64"))
        row = summarise_cell({GROUPS[0]: sample, GROUPS[1]: EMPTY}, method, rng)[0]
        covered += probability * (row["ci_lower"] <= mean <= row["ci_upper"])
        width += probability * (row["ci_upper"] - row["ci_lower"])
    return covered, width


def sample_cell(
    rng: np.random.Generator, officers: tuple[float, ...], members: tuple[float, ...], sizes: tuple[int, int]
) -> dict[str, GroupSample]:
    """One simulated council x characteristic: both groups' answers drawn from their true shares."""
    return {
        GROUPS[0]: GroupSample(np.append(rng.multinomial(sizes[0], officers), 0)),
        GROUPS[1]: GroupSample(np.append(rng.multinomial(sizes[1], members), 0)),
    }


def all_respondents_coverage(
    officers: tuple[float, ...],
    members: tuple[float, ...],
    sizes: tuple[int, int],
    method: MaturityMethod,
    samples: int,
    seed: int = 2,
) -> float:
    """Simulated coverage of the all-respondents interval (groups weighted equally)."""
    rng = np.random.default_rng(seed)
    mean = (true_mean(officers) + true_mean(members)) / 2
    hits = 0
    for _ in range(samples):
        cell = sample_cell(rng, officers, members, sizes)
        row = next(r for r in summarise_cell(cell, method, rng) if r["recipient_group"] == ALL_GROUPS)
        hits += row["ci_lower"] <= mean <= row["ci_upper"]
    return hits / samples


def gap_coverage(
    officers: tuple[float, ...],
    members: tuple[float, ...],
    sizes: tuple[int, int],
    method: MaturityMethod,
    samples: int,
    seed: int = 3,
) -> float:
    """Simulated coverage of the officers - members gap interval."""
    rng = np.random.default_rng(seed)
    gap = true_mean(officers) - true_mean(members)
    hits = 0
    for _ in range(samples):
        cell = sample_cell(rng, officers, members, sizes)
        row = mean_gap("c", cell, draw_cell_means(cell, method, rng), method)
        hits += row["gap_ci_lower"] <= gap <= row["gap_ci_upper"]
    return hits / samples


def change_coverage(
    earlier: tuple[float, ...],
    later: tuple[float, ...],
    sizes: tuple[int, int],
    method: MaturityMethod,
    samples: int,
    seed: int = 4,
) -> float:
    """Simulated coverage of a group's change in mean level between two waves (different respondents)."""
    rng = np.random.default_rng(seed)
    change = true_mean(later) - true_mean(earlier)
    hits = 0
    for _ in range(samples):
        then = GroupSample(np.append(rng.multinomial(sizes[0], earlier), 0))
        now = GroupSample(np.append(rng.multinomial(sizes[1], later), 0))
        lower, upper = tail_difference_interval(
            draw_group_means(now, method, rng), draw_group_means(then, method, rng), method.confidence_level
        )
        hits += lower <= change <= upper
    return hits / samples


def share_change_coverage(
    earlier: float, later: float, sizes: tuple[int, int], confidence_level: float, samples: int, seed: int = 5
) -> float:
    """Simulated coverage of the change in % agree between two waves (Newcombe's interval)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(samples):
        then, now = rng.binomial(sizes[0], earlier) / sizes[0], rng.binomial(sizes[1], later) / sizes[1]
        lower, upper = newcombe_difference_interval(now, sizes[1], then, sizes[0], confidence_level)
        hits += lower <= later - earlier <= upper
    return hits / samples


def print_change_table(samples: int = 2000) -> None:
    """The coverage of the change since the earlier wave (docs/methodology.md)."""
    method = load_settings().maturity
    print("\n| earlier | later | 10 -> 10 | 30 -> 30 | 70 -> 30 |\n| --- | --- | --- | --- | --- |")
    for earlier, later in CHANGE_PAIRS:
        figures = [
            change_coverage(PATTERNS[earlier], PATTERNS[later], sizes, method, samples)
            for sizes in ((10, 10), (30, 30), (70, 30))
        ]
        print(f"| {earlier} | {later} | " + " | ".join(f"{f:.3f}" for f in figures) + " |")
    confidence = load_settings().statement_method.confidence_level
    print("\n| % agree then | now | 10 -> 10 | 30 -> 30 | 70 -> 30 |\n| --- | --- | --- | --- | --- |")
    for earlier, later in SHARE_PAIRS:
        figures = [
            share_change_coverage(earlier, later, s, confidence, samples)
            for s in ((10, 10), (30, 30), (70, 30))
        ]
        print(f"| {earlier:.0%} | {later:.0%} | " + " | ".join(f"{f:.3f}" for f in figures) + " |")


# Waves to simulate: no change, a small and a large move, and extremes either side.
CHANGE_PAIRS = (
    ("skewed", "skewed"),
    ("skewed", "balanced"),
    ("extreme (92% at 1)", "balanced"),
    ("balanced", "extreme (97% at 3)"),
    ("polarised (1 or 3)", "extreme (92% at 2)"),
)
SHARE_PAIRS = ((0.5, 0.5), (0.3, 0.6), (0.05, 0.2), (0.9, 0.98))


def print_tables(samples: int = 2000) -> None:
    """The coverage tables of docs/methodology.md."""
    method = load_settings().maturity
    print("| pattern | n = 10 | n = 30 | n = 70 |\n| --- | --- | --- | --- |")
    for name, shares in PATTERNS.items():
        cells = [single_group_coverage(shares, n, method) for n in (10, 30, 70)]
        print(f"| {name} | " + " | ".join(f"{c:.3f} (width {w:.2f})" for c, w in cells) + " |")
    print("\n| officers | members | 70 + 10 | 30 + 10 | 10 + 10 | gap, 70 + 10 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for first, second in itertools.product(PATTERNS, repeat=2):
        if first == second or "balanced" in (first, second) or "92% at 1" in first:
            figures = [
                all_respondents_coverage(PATTERNS[first], PATTERNS[second], sizes, method, samples)
                for sizes in ((70, 10), (30, 10), (10, 10))
            ]
            gap = gap_coverage(PATTERNS[first], PATTERNS[second], (70, 10), method, samples)
            print(f"| {first} | {second} | " + " | ".join(f"{f:.3f}" for f in [*figures, gap]) + " |")


if __name__ == "__main__":
    print_tables()
    print_change_table()
