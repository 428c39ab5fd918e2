"""Disclosure control for published answer statistics: primary and secondary suppression.

Primary: a statistic resting on fewer than `min_valid_answers` valid answers is withheld.
Secondary: published figures are tied by relations (a council's `all` figure is computed from its two
groups; a national figure from the councils). Where a withheld figure could be worked out exactly from
the published figures in its relations, further figures are withheld until none can. Derivability is
checked by linear algebra over every relation at once, not one relation at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

# Singular values below this count as zero when finding what published figures pin down.
_RANK_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Relation:
    """A total and the parts it is computed from (row positions): any one follows from the rest."""

    total: int
    parts: tuple[int, ...]

    @property
    def cells(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


def relations_within(table: pd.DataFrame, by: list[str], column: str, total: str) -> list[Relation]:
    """For each set of rows sharing `by`, the row whose `column` equals `total` and the other rows."""
    group = table.groupby(by, sort=True).ngroup().to_numpy()
    is_total = (table[column] == total).to_numpy()
    order = np.argsort(group, kind="stable")  # rows by group (in key order), then by position
    ordered = group[order]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    relations = []
    for start, end in pairwise(bounds):
        rows = order[start:end]
        totals = rows[is_total[rows]]
        if len(totals) != 1 or len(rows) < 2 or group[rows[0]] < 0:
            continue
        relations.append(Relation(int(totals[0]), tuple(int(p) for p in rows[~is_total[rows]])))
    return relations


def primary_withheld(n_valid: np.ndarray, min_valid_answers: int) -> np.ndarray:
    """Figures resting on fewer valid answers than the threshold (an empty base included)."""
    return np.asarray(n_valid) < min_valid_answers


def derivable_cells(relations: Sequence[Relation], unknown: np.ndarray) -> set[int]:
    """Unknown cells whose value follows exactly from the known cells through the relations.

    Each relation is a linear equation total - sum(parts) = 0 (an equal-weight mean is the same up to
    coefficients, which do not change what is determined). An unknown cell is determined exactly when
    every solution of the homogeneous system restricted to the unknowns leaves it at zero, that is when
    its coordinate vanishes on the null space.
    """
    columns = sorted({c for r in relations for c in r.cells if unknown[c]})
    if not columns:
        return set()
    index = {cell: i for i, cell in enumerate(columns)}
    rows = [r for r in relations if any(unknown[c] for c in r.cells)]
    system = np.zeros((len(rows), len(columns)))
    for i, relation in enumerate(rows):
        for cell in relation.cells:
            if unknown[cell]:
                system[i, index[cell]] = 1.0 if cell == relation.total else -1.0
    _, singular, vt = np.linalg.svd(system)
    rank = int((singular > _RANK_TOLERANCE * max(1.0, singular.max(initial=0.0))).sum())
    null_space = vt[rank:]
    pinned = np.all(np.abs(null_space) < _RANK_TOLERANCE, axis=0)
    return {columns[i] for i in np.flatnonzero(pinned)}


def _components(relations: Sequence[Relation], size: int) -> list[list[Relation]]:
    """Relations grouped into independent sets (no cell shared between sets), so each is solved alone."""
    parent = list(range(size))

    def root(cell: int) -> int:
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    for relation in relations:
        for cell in relation.parts:
            parent[root(cell)] = root(relation.total)
    groups: dict[int, list[Relation]] = {}
    for relation in relations:
        groups.setdefault(root(relation.total), []).append(relation)
    return list(groups.values())


def _next_to_withhold(
    exposed: int,
    relations: list[Relation],
    withheld: np.ndarray,
    has_value: np.ndarray,
    n_valid: np.ndarray,
) -> int:
    """The published figure to withhold so an exposed one is protected, losing as little as possible.

    Candidates are the published figures in the exposed cell's relations (or, failing that, anywhere
    in its connected relations). Preference: the fewest figures newly exposed by withholding it, then a
    part rather than a total (totals are the headline figures), then the smallest base, then position.
    """
    touching = [r for r in relations if exposed in r.cells] or relations
    totals = {r.total for r in relations}
    candidates = sorted({c for r in touching for c in r.cells if has_value[c] and not withheld[c]})
    if not candidates:
        candidates = sorted({c for r in relations for c in r.cells if has_value[c] and not withheld[c]})

    def cost(cell: int) -> tuple[int, bool, int, int]:
        trial = withheld.copy()
        trial[cell] = True
        return (len(derivable_cells(relations, trial & has_value)), cell in totals, int(n_valid[cell]), cell)

    return min(candidates, key=cost)


def secondary_withheld(
    relations: Sequence[Relation], withheld: np.ndarray, n_valid: np.ndarray
) -> np.ndarray:
    """Extend the withheld set until no withheld figure can be derived from the published ones.

    A figure with no valid answers has no value to protect (it is known to be empty), so only
    figures with at least one valid answer count as unknowns.
    """
    withheld = np.asarray(withheld, dtype=bool).copy()
    n_valid = np.asarray(n_valid)
    has_value = n_valid > 0
    for component in _components(relations, len(withheld)):
        while exposed := derivable_cells(component, withheld & has_value):
            withheld[_next_to_withhold(min(exposed), component, withheld, has_value, n_valid)] = True
    return withheld


def _nullable(values: pd.Series) -> pd.Series:
    """The same values in a dtype that can hold a missing value without turning into objects."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values
    return values.astype("boolean" if pd.api.types.is_bool_dtype(values) else "Float64")


def apply_disclosure_control(
    table: pd.DataFrame,
    statistics: list[str],
    relations: Sequence[Relation],
    min_valid_answers: int,
    withheld_status: str,
) -> pd.DataFrame:
    """Blank withheld statistics (kept numeric) and mark them in a separate status column."""
    n_valid = table["n_valid"].to_numpy()
    withheld = secondary_withheld(relations, primary_withheld(n_valid, min_valid_answers), n_valid)
    table = table.copy()
    for column in statistics:
        table[column] = _nullable(table[column]).mask(withheld)
    table["status"] = np.where(withheld, withheld_status, "")
    return table
