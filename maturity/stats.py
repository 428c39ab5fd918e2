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


def intervals_separate(
    lower_a: np.ndarray, upper_a: np.ndarray, lower_b: np.ndarray, upper_b: np.ndarray
) -> np.ndarray:
    """True where two intervals do not overlap; missing bounds give False (no evidence of a gap)."""
    with np.errstate(invalid="ignore"):
        gap = (np.asarray(upper_a) < np.asarray(lower_b)) | (np.asarray(upper_b) < np.asarray(lower_a))
    return np.asarray(gap, dtype=bool)
