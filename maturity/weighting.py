"""Raking weights for the public survey: population margins, checks and diagnostics.

The iterative proportional fitting itself is svy's (the maintained successor of samplics); this module
checks the inputs so that failures name the council, age band or sex at fault, and reports how much
the weights cost in precision.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
import svy
from svy.errors import SvyError

from maturity.stats import design_effect, kish_effective_size

_START_WEIGHT = "start_weight"
_RAKED_WEIGHT = "raked_weight"


class WeightingError(ValueError):
    """The survey cannot be weighted to the population: an empty margin cell or no convergence."""


class LargeWeightWarning(UserWarning):
    """Some respondents carry a weight far above the mean: estimates lean heavily on them."""


@dataclass(frozen=True)
class WeightSummary:
    """What the weights cost: effective sample size, design effect and range."""

    respondents: int
    effective_size: float
    design_effect: float
    min_weight: float
    max_weight: float
    max_to_mean: float


def population_margins(population: pd.DataFrame, margins: list[str]) -> dict[str, dict[str, float]]:
    """Population totals for each margin variable, summed from the council x age x sex cells."""
    return {
        margin: {str(k): float(v) for k, v in population.groupby(margin)["population"].sum().items()}
        for margin in margins
    }


def check_margin_cells(sample: pd.DataFrame, targets: dict[str, dict[str, float]]) -> None:
    """Fail clearly when a margin level has no respondents or respondents have no population."""
    problems = []
    for margin, totals in targets.items():
        observed = set(sample[margin].astype(str))
        empty = sorted(level for level, total in totals.items() if total > 0 and level not in observed)
        unknown = sorted(observed - {level for level, total in totals.items() if total > 0})
        if empty:
            problems.append(f"{margin} {', '.join(empty)}: population but no respondents")
        if unknown:
            problems.append(f"{margin} {', '.join(unknown)}: respondents but no population")
    if problems:
        raise WeightingError(
            "The public survey cannot be weighted to the population: "
            + "; ".join(problems)
            + ". Every margin cell needs respondents and a population; merge cells or add population rows."
        )


def check_margin_totals(targets: dict[str, dict[str, float]], tolerance: float) -> None:
    """Fail clearly when the margins describe different populations (raking could never converge)."""
    totals = {margin: sum(levels.values()) for margin, levels in targets.items()}
    reference = max(totals.values())
    if any(abs(total - reference) > tolerance * reference for total in totals.values()):
        raise WeightingError(f"Population margins disagree on the total population: {totals}.")


def rake_weights(
    sample: pd.DataFrame,
    targets: dict[str, dict[str, float]],
    tolerance: float,
    max_iterations: int,
) -> np.ndarray:
    """Raking weights (equal starting weights) that reproduce every population margin within tolerance."""
    check_margin_cells(sample, targets)
    check_margin_totals(targets, tolerance)
    frame = pl.DataFrame({m: sample[m].astype(str).to_numpy() for m in targets}).with_columns(
        pl.lit(1.0).alias(_START_WEIGHT)
    )
    try:
        raked = svy.Sample(frame, svy.Design(wgt=_START_WEIGHT)).weighting.rake(
            controls=targets,
            tol=tolerance,
            max_iter=max_iterations,
            wgt_name=_RAKED_WEIGHT,
            on_nonconvergence="error",
        )
    except SvyError as error:
        raise WeightingError(
            f"Raking the public survey failed ({error.title}): {error.detail} With tolerance {tolerance} "
            f"and at most {max_iterations} iterations (public_survey.weighting in config/method.yaml)."
        ) from error
    return raked.data.get_column(_RAKED_WEIGHT).to_numpy()


def summarise_weights(weights: np.ndarray, warn_above_mean_ratio: float) -> WeightSummary:
    """Effective size, design effect and range; warn when a weight exceeds the configured multiple."""
    mean = float(np.mean(weights))
    summary = WeightSummary(
        respondents=len(weights),
        effective_size=kish_effective_size(weights),
        design_effect=design_effect(weights),
        min_weight=float(np.min(weights)),
        max_weight=float(np.max(weights)),
        max_to_mean=float(np.max(weights) / mean),
    )
    if summary.max_to_mean > warn_above_mean_ratio:
        warnings.warn(
            f"The largest public survey weight is {summary.max_to_mean:.1f} times the mean "
            f"(above {warn_above_mean_ratio:g}); estimates rest heavily on a few respondents. "
            "Weights are not trimmed.",
            LargeWeightWarning,
            stacklevel=2,
        )
    return summary
