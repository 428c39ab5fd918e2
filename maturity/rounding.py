"""The one rounding rule for every published figure, reports and open data: half away from zero."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Added before rounding so that a true tie that floating point computed a hair below .5 still rounds
# away from zero; published values are ratios of counts, never this close to a tie unless they are one.
_TIE_TOLERANCE = 1e-9


def round_half_away(values: pd.Series, digits: int) -> pd.Series:
    """Round half away from zero, as UK official statistics do (Python's round() goes to even)."""
    numbers = values.astype("float64")
    rounded = _round_array(numbers.to_numpy(dtype="float64", na_value=np.nan), digits)
    return pd.Series(rounded, index=values.index).where(values.notna())


def round_number(value: float, digits: int = 0) -> float:
    """One figure rounded half away from zero: 2.25 -> 2.3, -0.125 -> -0.13 (two places)."""
    return float(_round_array(np.array([value], dtype="float64"), digits)[0])


def _round_array(numbers: np.ndarray, digits: int) -> np.ndarray:
    scale = 10.0**digits
    return np.sign(numbers) * np.floor(np.abs(numbers) * scale + 0.5 + _TIE_TOLERANCE) / scale


def whole_percent(numerator: int, denominator: int) -> int:
    """A count as a whole percentage of another, rounded half away from zero: 67 of 133 is 50%."""
    return int(round_number(100 * numerator / denominator)) if denominator else 0


def decimals_within_level(mean: float, cut_offs: tuple[float, ...], digits: int) -> int:
    """The places to print a mean with so that it stays on its level's side of every cut-off.

    A mean of 1.496 is level 1 (below 1.5), but rounds to 1.50 at two places; it is printed as 1.496.
    Never fewer than digits; a mean exactly on a cut-off is already on its level's side.
    """
    places = digits
    while any(mean < cut <= round_number(mean, places) for cut in cut_offs) and places < digits + 6:
        places += 1
    return places


def round_within_level(means: pd.Series, cut_offs: tuple[float, ...], digits: int) -> pd.Series:
    """Means rounded half away from zero to digits, or more where fewer would cross a level cut-off."""
    rounded = [
        round_number(m, decimals_within_level(m, cut_offs, digits)) if pd.notna(m) else np.nan for m in means
    ]
    return pd.Series(rounded, index=means.index, dtype="float64").where(means.notna())
