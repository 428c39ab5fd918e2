"""Interval and weighting statistics shared by the scoring methods (docs/methodology.md)."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def normal_quantile(confidence_level: float) -> float:
    """Two-sided standard normal critical value, e.g. 1.96 for a 95% interval."""
    return NormalDist().inv_cdf(1 - (1 - confidence_level) / 2)


def wilson_interval(
    proportion: np.ndarray | float, size: np.ndarray | float, confidence_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion; size may be an effective (non-whole) sample size.

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not collapse at 0% or 100%,
    which matters for councils with few answers. Empty bases give NaN bounds.
    """
    p = np.asarray(proportion, dtype=float)
    n = np.asarray(size, dtype=float)
    z = normal_quantile(confidence_level)
    with np.errstate(invalid="ignore", divide="ignore"):
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half_width = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
        # The interval always contains p; min/max only undo rounding at 0% and 100%.
        lower = np.where(n > 0, np.clip(np.minimum(centre - half_width, p), 0.0, 1.0), np.nan)
        upper = np.where(n > 0, np.clip(np.maximum(centre + half_width, p), 0.0, 1.0), np.nan)
    return lower, upper


def kish_effective_size(weights: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2: the simple random sample worth the same."""
    weights = np.asarray(weights, dtype=float)
    return float(weights.sum() ** 2 / np.square(weights).sum()) if weights.size else 0.0


def design_effect(weights: np.ndarray) -> float:
    """Kish's design effect from unequal weights, n / effective n (1 means no loss of precision)."""
    effective = kish_effective_size(weights)
    return float(len(weights) / effective) if effective else float("nan")


# ------------------------------------------------------------------ posterior of a mean level


def posterior_mean_draws(
    counts: np.ndarray, prior: np.ndarray, rng: np.random.Generator, draws: int, levels: np.ndarray
) -> np.ndarray:
    """Draws of a group's mean level from the Dirichlet posterior of its level shares (counts + prior).

    Drawn as normalised gamma variates, one row of three per draw, so that the method can be
    reproduced from its description (docs/methodology.md) with any numpy Generator.
    """
    shape = np.asarray(counts, dtype=float) + np.asarray(prior, dtype=float)
    gamma = rng.gamma(shape, size=(draws, len(shape)))
    totals = gamma.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, gamma @ levels / totals, np.nan)


def level_probabilities(draws: np.ndarray, cut_offs: tuple[float, float]) -> np.ndarray:
    """Share of draws of the mean level that fall in level 1, 2 and 3 (cut-offs as the framework's)."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return np.full(3, np.nan)
    below_2, below_3 = (finite < cut_offs[0]).mean(), (finite < cut_offs[1]).mean()
    return np.array([below_2, below_3 - below_2, 1 - below_3])


def tastle_wierman_consensus(shares: np.ndarray, levels: np.ndarray) -> float:
    """Tastle and Wierman's (2007) ordinal consensus: 1 when all agree, 0 when split between the extremes.

    Cns = 1 + sum p_i log2(1 - |X_i - mean| / width), width = highest level - lowest level.
    """
    shares = np.asarray(shares, dtype=float)
    if not np.isfinite(shares).all() or shares.sum() == 0:
        return float("nan")
    mean = float(shares @ levels)
    width = float(levels.max() - levels.min())
    used = shares > 0
    distance = 1 - np.abs(levels[used] - mean) / width
    return float(1 + np.sum(shares[used] * np.log2(distance)))


# ------------------------------------------------------------------ comparisons


def welch_p_value(means: np.ndarray, variances: np.ndarray, sizes: np.ndarray, weights: np.ndarray) -> float:
    """Two-sided p-value of a Welch test that a weighted sum of independent group means is zero.

    weights: +1/-1 (or ±0.5 for an equally weighted average of two groups) per mean. The degrees of
    freedom are Welch and Satterthwaite's; with no variance at all, p is 1 for a zero difference.
    """
    from scipy.stats import t as student_t

    if (np.asarray(sizes) < 2).any():
        return float("nan")
    terms = np.asarray(weights, float) ** 2 * np.asarray(variances, float) / np.asarray(sizes, float)
    difference = float(np.dot(weights, means))
    variance = float(terms.sum())
    if variance <= 0:
        return 1.0 if difference == 0 else 0.0
    freedom = variance**2 / float(np.sum(terms**2 / (np.asarray(sizes, float) - 1)))
    return float(2 * student_t.sf(abs(difference) / np.sqrt(variance), freedom))


def fisher_p_value(agree: int, total: int, rest_agree: int, rest_total: int) -> float:
    """Two-sided Fisher exact p-value that a council's share agreeing equals the rest of Wales's."""
    from scipy.stats import fisher_exact

    table = [[agree, total - agree], [rest_agree, rest_total - rest_agree]]
    return float(fisher_exact(table, alternative="two-sided").pvalue)


def false_discovery_flags(p_values: np.ndarray, rate: float) -> np.ndarray:
    """Benjamini-Hochberg: which of a family's comparisons are discoveries at the false discovery rate."""
    from scipy.stats import false_discovery_control

    p_values = np.asarray(p_values, dtype=float)
    flags = np.zeros(p_values.shape, dtype=bool)
    tested = np.isfinite(p_values)
    if tested.any():
        flags[tested] = false_discovery_control(p_values[tested], method="bh") <= rate
    return flags


def newcombe_difference_interval(
    share_a: float, size_a: float, share_b: float, size_b: float, confidence_level: float
) -> tuple[float, float]:
    """Newcombe's (1998, method 10) hybrid score interval for a difference of two independent shares.

    Built from each share's Wilson interval, so it stays inside [-1, 1] and keeps its coverage at 0% and
    100%, where a Wald interval for the difference collapses.
    """
    lower_a, upper_a = (float(v) for v in wilson_interval(share_a, size_a, confidence_level))
    lower_b, upper_b = (float(v) for v in wilson_interval(share_b, size_b, confidence_level))
    difference = share_a - share_b
    below = np.sqrt((share_a - lower_a) ** 2 + (upper_b - share_b) ** 2)
    above = np.sqrt((upper_a - share_a) ** 2 + (share_b - lower_b) ** 2)
    return float(difference - below), float(difference + above)
