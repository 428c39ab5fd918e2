"""Disclosure control for published answer statistics, proven against an integer attacker.

The rule (docs/disclosure.md gives the threat model and the proof):

1. Primary: a group's figures resting on fewer than `min_valid_answers` valid answers are withheld,
   its base (`n_valid`) included, so its don't-know count cannot be worked out from the responses.
2. Complete groups: a council's all-respondents figure is published only when every group it is made
   of is published (a group with no published responses does not count). So no published figure is a
   function of a withheld group: no all-respondents interval, share or mean can be inverted.
3. Once withheld, always withheld within a wave: a cell withheld in any earlier release of the wave stays
   withheld, so a later release cannot be differenced against an earlier one to recover it.
4. The integer audit: every release is checked together with every earlier release of its wave. The
   attacker is assumed to know every published cell's counts exactly, which cells are withheld for too few
   answers, every response count, and which cells changed between releases. For every withheld count (each
   answer category and the base) the audit finds, with an integer program (HiGHS through scipy), the
   smallest and largest value consistent with all of that; a small cell's range must span at least
   2 x `protection` + 1 values (or all that is possible a priori), judged on the range alone, never on the
   truth; a larger withheld cell must not be pinned, a small group's unanimity must stay uncertain, and a
   change between releases in a small withheld cell must be protected the same way.
5. Larger rows beside small ones, by a public rule (before the audit): under each published Wales row, a
   withheld row is never alone and a small one has `larger_rows_beside_small` larger ones beside it,
   chosen by published response counts and names only, so the choice tells a reader nothing. Only where
   the audit still fails is a further round taken (and warned of: that it was needed reads the truth).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp


@dataclass(frozen=True)
class Relation:
    """A total and the parts it is the sum of (row positions), in answer counts."""

    total: int
    parts: tuple[int, ...]
    kind: str = "group"  # "group": a council's groups make its all row; "area": councils make Wales

    @property
    def cells(self) -> tuple[int, ...]:
        return (self.total, *self.parts)


@dataclass(frozen=True)
class DisclosureRules:
    """The published rule: threshold, protection interval and the status printed for a withheld figure."""

    min_valid_answers: int
    protection: int
    withheld_status: str
    larger_rows_beside_small: int


@dataclass
class AuditTable:
    """One table's cells in the form the audit reasons over (the truth: restricted, never published).

    counts: valid answers per category (levels 1-3, or agree / not agree), one row per published row.
    bound: what a reader knows bounds the base, from published response counts (a group with no
    responses has nothing to protect).
    """

    cells: list[str]
    counts: np.ndarray
    bound: np.ndarray
    relations: list[Relation]

    @property
    def n_valid(self) -> np.ndarray:
        return self.counts.sum(axis=1)


class DisclosureError(RuntimeError):
    """No release can keep the promise: what an earlier release published gives a withheld figure away."""


@dataclass(frozen=True)
class Snapshot:
    """A release's cells as the ledger keeps them: truth, and which were published.

    past_public_rule: cells the audit withheld beyond the public rule (this run only; not in the ledger).
    """

    cells: list[str]
    counts: np.ndarray
    bound: np.ndarray
    withheld: np.ndarray
    primary: np.ndarray
    past_public_rule: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Exposure:
    """A withheld quantity an attacker can narrow more than the rule allows."""

    cell: str
    quantity: str
    truth: int
    feasible: tuple[int, int]
    component: int = field(compare=False, default=-1)


def relations_within(
    table: pd.DataFrame, by: list[str], column: str, total: str, kind: str = "group"
) -> list[Relation]:
    """For each set of rows sharing `by`, the row whose `column` equals `total` and the other rows."""
    group = table.groupby(by, sort=True).ngroup().to_numpy()
    is_total = (table[column] == total).to_numpy()
    order = np.argsort(group, kind="stable")
    ordered = group[order]
    bounds = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1], True])
    relations = []
    for start, end in pairwise(bounds):
        rows = order[start:end]
        totals = rows[is_total[rows]]
        if len(totals) != 1 or len(rows) < 2 or group[rows[0]] < 0:
            continue
        relations.append(Relation(int(totals[0]), tuple(int(p) for p in rows[~is_total[rows]]), kind))
    return relations


def primary_withheld(n_valid: np.ndarray, min_valid_answers: int) -> np.ndarray:
    """Figures resting on fewer valid answers than the threshold (an empty base included)."""
    return np.asarray(n_valid) < min_valid_answers


def withhold_incomplete_groups(
    relations: Sequence[Relation], withheld: np.ndarray, bound: np.ndarray
) -> np.ndarray:
    """Withhold every all-respondents row one of whose groups is withheld.

    A group with no published responses does not count; one that responded but gave no answers to the
    item does (that it gave none is itself withheld: the all row would equal the other group's).
    """
    withheld = withheld.copy()
    for relation in relations:
        if relation.kind == "group" and any(withheld[p] and bound[p] > 0 for p in relation.parts):
            withheld[relation.total] = True
    return withheld


def _components(relations: Sequence[Relation], size: int) -> list[tuple[list[int], list[Relation]]]:
    """Cells and relations grouped into independent sets (no cell shared), each audited alone."""
    parent = list(range(size))

    def root(cell: int) -> int:
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    for relation in relations:
        for cell in relation.parts:
            parent[root(cell)] = root(relation.total)
    cells: dict[int, list[int]] = {}
    for cell in range(size):
        cells.setdefault(root(cell), []).append(cell)
    rels: dict[int, list[Relation]] = {}
    for relation in relations:
        rels.setdefault(root(relation.total), []).append(relation)
    return [(members, rels.get(key, [])) for key, members in sorted(cells.items())]


RELAXATION_INFEASIBLE = 2  # scipy.optimize.milp's status for a problem with no solution
WHOLE_TOLERANCE = 1e-6  # how far from a whole number a relaxed solution's value may lie (HiGHS's tolerances)


def integer_minimum(cost: np.ndarray, constraints: list[LinearConstraint]) -> np.ndarray | None:
    """A non-negative integer solution minimising cost within the constraints (None: there is none).

    The linear relaxation is solved first: when its optimum is whole and meets every constraint exactly
    it is the integer optimum too, as no integer solution beats the relaxation, and a relaxation with no
    solution proves the integer program has none. The audit's tables (sums of sums over releases) nearly
    always have a whole optimal vertex, and the relaxation solves several times faster; anything else is
    left to the integer program.
    """
    relaxed = _solve(cost, constraints, integer=False)
    if relaxed.status == RELAXATION_INFEASIBLE:
        return None
    whole = _exactly_feasible_whole(relaxed.x, constraints) if relaxed.status == 0 else None
    if whole is not None:
        return whole
    result = _solve(cost, constraints, integer=True)
    return None if result.status != 0 or result.x is None else np.round(result.x)


def _solve(cost: np.ndarray, constraints: list[LinearConstraint], integer: bool) -> OptimizeResult:
    """HiGHS on the non-negative program, as an integer program or as its linear relaxation."""
    integrality = np.full(cost.size, 1 if integer else 0)
    return milp(cost, integrality=integrality, bounds=Bounds(0, np.inf), constraints=constraints)


def _exactly_feasible_whole(x: np.ndarray | None, constraints: list[LinearConstraint]) -> np.ndarray | None:
    """x rounded, if it is whole within HiGHS's tolerance and then meets every constraint exactly."""
    if x is None:
        return None
    solution = np.round(x)
    if np.abs(x - solution).max(initial=0.0) > WHOLE_TOLERANCE or (solution < 0).any():
        return None
    for constraint in constraints:  # exact: whole coefficients and bounds, whole solution
        values = constraint.A @ solution
        if (values < constraint.lb).any() or (values > constraint.ub).any():
            return None
    return solution


class _Program:
    """The attacker's integer program for one component over every release of the wave."""

    def __init__(
        self,
        snapshots: Sequence[Snapshot],
        cells: list[int],
        relations: list[Relation],
        min_valid_answers: int,
    ) -> None:
        self.categories = snapshots[-1].counts.shape[1]
        self.snapshots = snapshots
        # A cell whose truth is the same in two releases is one unknown (the attacker may know it is
        # unchanged); a cell known (published) in any release with that truth is known everywhere.
        self.variable: dict[tuple[int, int], int | None] = {}
        self.known: dict[tuple[int, int], np.ndarray] = {}
        keys: dict[tuple[int, tuple[int, ...]], int] = {}
        uppers: list[int] = []
        self.truth: list[np.ndarray] = []
        self.primary: list[bool] = []
        published_truths = {
            (cell, tuple(s.counts[cell])) for s in snapshots for cell in cells if not s.withheld[cell]
        }
        for release, snapshot in enumerate(snapshots):
            for cell in cells:
                truth = tuple(int(v) for v in snapshot.counts[cell])
                if (cell, truth) in published_truths:
                    self.variable[(release, cell)] = None
                    self.known[(release, cell)] = np.array(truth)
                    continue
                upper = int(snapshot.bound[cell])
                if snapshot.primary[cell]:
                    upper = min(upper, min_valid_answers - 1)
                if (cell, truth) not in keys:
                    keys[(cell, truth)] = len(uppers)
                    uppers.append(upper)
                    self.truth.append(np.array(truth))
                    self.primary.append(bool(snapshot.primary[cell]))
                index = keys[(cell, truth)]
                uppers[index] = min(uppers[index], upper)
                self.primary[index] = self.primary[index] or bool(snapshot.primary[cell])
                self.variable[(release, cell)] = index
        self.uppers = np.array(uppers, dtype=float)
        # A withheld row not marked small is known to rest on at least the threshold: the release says so.
        self.lowers = np.where(self.primary, 0.0, float(min_valid_answers)) if uppers else np.zeros(0)
        self.size = len(uppers) * self.categories
        self._constraints = self._build_constraints(cells, relations)
        self.witnesses: list[np.ndarray] = []

    def columns(self, variable: int) -> slice:
        return slice(variable * self.categories, (variable + 1) * self.categories)

    def _build_constraints(self, cells: list[int], relations: list[Relation]) -> list[LinearConstraint]:
        rows, lower, upper = [], [], []
        for variable, bound in enumerate(self.uppers):  # the base is within what a reader knows bounds it
            row = np.zeros(self.size)
            row[self.columns(variable)] = 1.0
            rows.append(row)
            lower.append(min(self.lowers[variable], bound))
            upper.append(bound)
        for release in range(len(self.snapshots)):
            for relation in relations:
                for category in range(self.categories):
                    row = np.zeros(self.size)
                    constant = 0.0
                    for cell, sign in ((relation.total, 1.0), *((p, -1.0) for p in relation.parts)):
                        variable = self.variable[(release, cell)]
                        if variable is None:
                            constant += sign * self.known[(release, cell)][category]
                        else:
                            row[variable * self.categories + category] += sign
                    if row.any():
                        rows.append(row)
                        lower.append(-constant)
                        upper.append(-constant)
        if not rows:
            return []
        return [LinearConstraint(np.vstack(rows), np.array(lower), np.array(upper))]

    def extreme(
        self, objective: np.ndarray, maximise: bool, extra: Iterable[LinearConstraint] = ()
    ) -> float | None:
        """The smallest (or largest) value of a linear expression over the integer solutions."""
        if self.size == 0:
            return 0.0
        solution = integer_minimum(-objective if maximise else objective, [*self._constraints, *extra])
        if solution is None:
            return None
        if not extra:
            self.witnesses.append(solution)
        return float(objective @ solution)

    @property
    def truth_vector(self) -> np.ndarray:
        return np.concatenate(self.truth).astype(float) if self.truth else np.zeros(0)

    def seed_witnesses(self) -> None:
        """Solutions at the extremes of each category's total: most cells are settled by these alone."""
        self.witnesses = [self.truth_vector]
        for category in range(self.categories):
            objective = np.zeros(self.size)
            objective[category :: self.categories] = 1.0
            self.extreme(objective, False)
            self.extreme(objective, True)

    def reaches(self, objective: np.ndarray, low: int, high: int, either: bool = False) -> tuple[int, int]:
        """The range of a quantity as far as the check needs: solve only for an end no known solution reaches.

        either: one end reached is enough (a check that the quantity is not pinned).
        """
        values = np.array(self.witnesses) @ objective
        found_low, found_high = float(values.min()), float(values.max())
        if either and (found_low <= low or found_high >= high):
            return round(found_low), round(found_high)
        if found_low > low:
            solved = self.extreme(objective, False)
            if solved is None:
                raise AssertionError("the audit's program has no solution: its model of the release is wrong")
            found_low = solved
        if found_high < high and not (either and found_low <= low):
            solved = self.extreme(objective, True)
            if solved is None:
                raise AssertionError("the audit's program has no solution: its model of the release is wrong")
            found_high = solved
        return round(found_low), round(found_high)

    def spread(self, objective: np.ndarray, width: int, a_priori: tuple[int, int]) -> tuple[int, int]:
        """The range of a quantity, exact unless known solutions already show it passes _spans.

        What is decided from it depends only on the feasible set, never on the truth: the witnesses'
        range lies inside the feasible one, and anything short of passing is solved exactly.
        """
        values = np.array(self.witnesses) @ objective
        found = (round(float(values.min())), round(float(values.max())))
        for maximise in (False, True):  # one end solved may already be enough
            if _spans(found, a_priori, width):
                return found
            solved = self.extreme(objective, maximise)
            if solved is None:
                raise AssertionError("the audit's program has no solution: its model of the release is wrong")
            found = (found[0], round(solved)) if maximise else (round(solved), found[1])
        return found

    def is_free(self, relations: list[Relation]) -> bool:
        """True when no relation constrains an unknown: every total is unknown and nothing builds on it."""
        parts = {p for r in relations for p in r.parts}
        for release in range(len(self.snapshots)):
            for relation in relations:
                if self.variable[(release, relation.total)] is None or relation.total in parts:
                    return False
        return True


def _spans(feasible: tuple[int, int], a_priori: tuple[int, int], width: int) -> bool:
    """A withheld quantity is protected when the values a reader finds possible span 2 x width + 1 at least,
    or everything possible a priori (below zero, or above the group's published responses, is not).

    Only the feasible range counts, never where the truth lies in it: the rule and the code are public,
    so a check against truth +- width would itself tell a reader that the truth lies width inside any
    range that passed (a helper's attack narrowed 26 withheld quantities of a first release that way).
    """
    low, high = feasible
    return high - low >= 2 * width or (low <= a_priori[0] and high >= a_priori[1])


def _quantities(program: _Program, variable: int) -> list[tuple[str, np.ndarray, int]]:
    """The counts of one unknown cell to protect: each answer category, and the base."""
    found = []
    for category in range(program.categories):
        objective = np.zeros(program.size)
        objective[variable * program.categories + category] = 1.0
        found.append((f"count_{category + 1}", objective, int(program.truth[variable][category])))
    objective = np.zeros(program.size)
    objective[program.columns(variable)] = 1.0
    found.append(("n_valid", objective, int(program.truth[variable].sum())))
    return found


def _cell_exposures(program: _Program, variable: int, name: str, width: int) -> list[Exposure]:
    upper = int(program.uppers[variable])
    exposures = []
    for quantity, objective, truth in _quantities(program, variable):
        if program.primary[variable]:
            feasible = program.spread(objective, width, (0, upper))
            safe = _spans(feasible, (0, upper), width)
        else:
            feasible = program.reaches(objective, truth - 1, truth + 1, either=True)
            safe = feasible[0] < feasible[1] or upper == 0
        if not safe:
            exposures.append(Exposure(name, quantity, truth, feasible))
    if program.primary[variable] and not exposures:
        exposures += _unanimity_exposures(program, variable, name)
    return exposures


def _unanimity_exposures(program: _Program, variable: int, name: str) -> list[Exposure]:
    """A small group must not be known to have answered as one: some feasible solution must split it.

    Decided on the feasible set alone: a truth that splits is such a solution; otherwise the solver looks
    for one, and only a set in which some solution has two answers or more yet none splits is exposed.
    """
    truth = program.truth[variable]
    total = int(truth.sum())
    if total >= 2 and int(truth.max()) != total:
        return []
    columns = program.columns(variable)
    for first in range(program.categories):
        for second in range(first + 1, program.categories):
            constraint = np.zeros((2, program.size))
            constraint[0, columns.start + first] = 1.0
            constraint[1, columns.start + second] = 1.0
            split = LinearConstraint(constraint, 1.0, np.inf)
            if program.extreme(np.zeros(program.size), False, [split]) is not None:
                return []
    base = np.zeros(program.size)
    base[columns] = 1.0
    most = total if total >= 2 else program.extreme(base, True)  # the truth already has two or more
    if most is None or most < 2:
        return []  # no feasible solution has two answers: there is nothing to answer as one
    return [Exposure(name, "unanimity", total, (total, total))]


def _change_exposures(program: _Program, cells: list[int], names: list[str], width: int) -> list[Exposure]:
    """A withheld cell's change between consecutive releases must be as uncertain as the cell itself."""
    exposures = []
    for earlier, later in pairwise(range(len(program.snapshots))):
        for cell in cells:
            before, after = program.variable[(earlier, cell)], program.variable[(later, cell)]
            if before is None or after is None or before == after:
                continue
            # Only a small cell's change is protected: a larger cell's change (an all row moving with its
            # published officers) reveals nothing its own unpinned value does not.
            if not (program.primary[before] or program.primary[after]):
                continue
            upper = int(max(program.uppers[before], program.uppers[after]))
            for (quantity, first, old), (_, second, new) in zip(
                _quantities(program, before), _quantities(program, after), strict=True
            ):
                change = new - old
                feasible = program.spread(second - first, width, (-upper, upper))
                if not _spans(feasible, (-upper, upper), width):
                    exposures.append(Exposure(names[cell], f"change in {quantity}", change, feasible))
    return exposures


def audit_component(
    snapshots: Sequence[Snapshot],
    cells: list[int],
    relations: list[Relation],
    rules: DisclosureRules,
    first_only: bool = False,
) -> list[Exposure]:
    """Every withheld quantity of one component that the release, with every earlier one, exposes."""
    program = _Program(snapshots, cells, relations, rules.min_valid_answers)
    if program.size == 0:
        return []
    names = snapshots[-1].cells
    if program.is_free(relations):
        return _free_component_exposures(program, cells, relations, names)
    program.seed_witnesses()
    exposures: list[Exposure] = []
    reported: set[int] = set()
    for (_, cell), variable in sorted(program.variable.items()):
        if variable is None or variable in reported:
            continue
        reported.add(variable)
        exposures += _cell_exposures(program, variable, names[cell], rules.protection)
        if exposures and first_only:
            return exposures
    return exposures + _change_exposures(program, cells, names, rules.protection)


def _free_component_exposures(
    program: _Program, cells: list[int], relations: list[Relation], names: list[str]
) -> list[Exposure]:
    """Without a binding relation every unknown ranges over what a reader knows bounds it (no solver).

    Only an unknown total whose parts are all known is pinned; a small cell and its changes range over
    their whole a-priori box, which protects them by definition.
    """
    exposures = []
    for release in range(len(program.snapshots)):
        for relation in relations:
            variable = program.variable[(release, relation.total)]
            unknown_parts = [program.variable[(release, p)] for p in relation.parts]
            if variable is not None and all(
                part is None or program.uppers[part] == 0 for part in unknown_parts
            ):
                truth = int(program.truth[variable].sum())
                exposures.append(Exposure(names[relation.total], "n_valid", truth, (truth, truth)))
    return exposures


def audit_release(
    snapshots: Sequence[Snapshot], relations: Sequence[Relation], rules: DisclosureRules
) -> list[Exposure]:
    """Every exposure in the newest release (the last snapshot) read with all earlier ones."""
    exposures = []
    for number, (cells, component) in enumerate(_components(relations, len(snapshots[-1].cells))):
        for exposure in audit_component(snapshots, cells, component, rules):
            exposures.append(
                Exposure(exposure.cell, exposure.quantity, exposure.truth, exposure.feasible, number)
            )
    return exposures


def align_snapshot(snapshot: Snapshot, cells: list[str]) -> Snapshot | None:
    """An earlier release's snapshot laid out on the current cells (a cell it lacks: never published)."""
    position = {cell: i for i, cell in enumerate(snapshot.cells)}
    if not any(cell in position for cell in cells):
        return None
    index = np.array([position.get(cell, -1) for cell in cells])
    present = index >= 0
    counts = np.zeros((len(cells), snapshot.counts.shape[1]), dtype="int64")
    counts[present] = snapshot.counts[index[present]]
    bound = np.zeros(len(cells), dtype="int64")
    bound[present] = snapshot.bound[index[present]]
    withheld = np.ones(len(cells), dtype=bool)
    withheld[present] = snapshot.withheld[index[present]]
    primary = np.zeros(len(cells), dtype=bool)
    primary[present] = snapshot.primary[index[present]]
    return Snapshot(cells, counts, bound, withheld, primary)


def published_then_small(snapshot: Snapshot, earlier: Sequence[Snapshot]) -> list[str]:
    """Cells this release withholds for resting on too few answers that an earlier release published.

    Their earlier figure is public, so a reader who knows how many answers a correction changed can work
    out the new one to within that many: no withholding now can protect it (docs/disclosure.md, Limits).
    """
    published_before = np.zeros(len(snapshot.cells), dtype=bool)
    for aligned in (align_snapshot(e, snapshot.cells) for e in earlier):
        if aligned is not None:
            published_before |= ~aligned.withheld
    revealed = published_before & snapshot.primary & snapshot.withheld
    return [snapshot.cells[i] for i in np.flatnonzero(revealed)]


def _columns(relations: Sequence[Relation]) -> list[tuple[Relation, list[int]]]:
    """Each Wales relation with the group rows beneath it (a council's all row stands for its groups).

    Wales rows over group rows come first, so a row withheld there is seen by the all-respondents one.
    """
    groups = {r.total: list(r.parts) for r in relations if r.kind == "group"}
    columns = [(r, [g for p in r.parts for g in groups.get(p, [p])]) for r in relations if r.kind == "area"]
    return sorted(columns, key=lambda column: any(p in groups for p in column[0].parts))


def _needs_more(under: list[int], withheld: np.ndarray, primary: np.ndarray, depth: int) -> bool:
    """Whether a published Wales row still has too little hidden beneath it for this round.

    One withheld row alone under a published sum is pinned; a small row needs `depth` larger ones beside it.
    """
    hidden = [c for c in under if withheld[c]]
    larger = sum(not primary[c] for c in hidden)
    return bool(hidden) and (len(hidden) < 2 or (larger < depth and any(primary[c] for c in hidden)))


def _withhold_round(
    table: AuditTable,
    columns: list[tuple[Relation, list[int]]],
    withheld: np.ndarray,
    primary: np.ndarray,
    depth: int,
    passed_over: np.ndarray,
) -> tuple[np.ndarray, bool]:
    """One round of the public rule: under each published Wales row that needs it, one more row withheld.

    Decided on what a reader has (which rows are withheld, which are small, the response counts, the
    names), never on a withheld figure, so a reader who reruns it learns nothing from it: the largest
    response count first, the Wales row itself only when no group row is left. `passed_over` rows are
    never chosen: withholding them would hide nothing.
    """
    added = False
    for relation, every_row in columns:
        under = [c for c in every_row if table.bound[c] > 0]  # a group with no responses hides nothing
        if withheld[relation.total] or not _needs_more(under, withheld, primary, depth):
            continue
        candidates = [c for c in under if not withheld[c] and not passed_over[c]]
        cell = min(candidates, key=lambda c: (-int(table.bound[c]), table.cells[c]), default=relation.total)
        withheld = withhold_incomplete_groups(table.relations, _with(withheld, cell), table.bound)
        added = True
    return withheld, added


def past_public_rule(
    table: AuditTable, earlier: Sequence[Snapshot], rules: DisclosureRules, withheld: np.ndarray
) -> tuple[str, ...]:
    """Cells withheld beyond the public rule: where the audit's further round tells a reader something.

    That a further round was needed says the public rule alone would have exposed a small group, which
    depends on withheld figures (docs/disclosure.md, Limits); the names are no secret, their figures are.
    """
    aligned = [s for s in (align_snapshot(e, table.cells) for e in earlier) if s is not None]
    public, _ = withhold_by_public_rule(table, aligned, rules)
    return tuple(table.cells[i] for i in np.flatnonzero(withheld & ~public))


def withhold_by_public_rule(
    table: AuditTable, aligned: Sequence[Snapshot], rules: DisclosureRules
) -> tuple[np.ndarray, np.ndarray]:
    """What the published rule withholds before the audit (and which cells are small).

    Small rows, rows withheld earlier in the wave, all rows over a withheld group, and under each published
    Wales row over a small group one larger row (the largest response count). Every input is something the
    release itself tells a reader, so a reader who reruns this learns nothing from its choice.
    """
    primary = primary_withheld(table.n_valid, rules.min_valid_answers)
    withheld = primary.copy()
    for snapshot in aligned:  # once withheld, always withheld within a wave
        withheld |= snapshot.withheld
    withheld = withhold_incomplete_groups(table.relations, withheld, table.bound)
    pinned = pinned_by_responses(table, rules)
    for _, component in _components(table.relations, len(table.cells)):
        for depth in range(1, rules.larger_rows_beside_small + 1):
            withheld, _ = _withhold_round(table, _columns(component), withheld, primary, depth, pinned)
    return withheld, primary


def protect_release(
    table: AuditTable, earlier: Sequence[Snapshot], rules: DisclosureRules
) -> tuple[np.ndarray, np.ndarray]:
    """The cells to withhold in this release (and which are primary), so that the audit passes."""
    aligned = [s for s in (align_snapshot(e, table.cells) for e in earlier) if s is not None]
    withheld, primary = withhold_by_public_rule(table, aligned, rules)
    for cells, component in _components(table.relations, len(table.cells)):
        withheld = _protect_component(table, aligned, cells, component, withheld, primary, rules)
    return withheld, primary


def _protect_component(
    table: AuditTable,
    aligned: list[Snapshot],
    cells: list[int],
    relations: list[Relation],
    withheld: np.ndarray,
    primary: np.ndarray,
    rules: DisclosureRules,
) -> np.ndarray:
    """Past the public rule, one more larger row under each Wales row a round, until the audit passes.

    When no round adds a row (a correction whose change only a row outside those columns can hide), the
    next published row of the component in the public order is withheld, group rows before Wales rows.
    Only whether a further row is needed depends on withheld figures: a reader learns, from a component
    that took one, that the public rule alone would have exposed it (docs/disclosure.md, Limits).
    """
    columns = _columns(relations)
    passed_over = pinned_by_responses(table, rules) | published_unchanged(table, aligned)
    wales = {r.total for r in relations if r.kind == "area"}
    order = sorted(cells, key=lambda c: (c in wales, -int(table.bound[c]), table.cells[c]))

    def exposures() -> list[Exposure]:
        snapshot = Snapshot(table.cells, table.counts, table.bound, withheld, primary)
        return audit_component([*aligned, snapshot], cells, relations, rules, first_only=True)

    exposed, depth = exposures(), rules.larger_rows_beside_small
    while exposed:
        depth += 1
        withheld, added = _withhold_round(table, columns, withheld, primary, depth, passed_over)
        if not added and depth > len(cells):
            chosen = next((c for c in order if not withheld[c] and not passed_over[c]), None)
            if chosen is None:
                raise _cannot_protect(exposed[0], first_release=not aligned)
            withheld = withhold_incomplete_groups(relations, _with(withheld, chosen), table.bound)
            added = True
        if added:
            exposed = exposures()
    return withheld


def _cannot_protect(exposure: Exposure, first_release: bool) -> DisclosureError:
    """The one-line stop when every row that could hide an exposed quantity is withheld already."""
    what = f"the disclosure audit cannot protect {exposure.cell.replace('|', ' ')} ({exposure.quantity})"
    if first_release:
        return DisclosureError(
            f"{what} in the wave's first release, with every row it could withhold withheld. That should "
            "not happen with real response counts: do not publish this release, and report it to the "
            "pipeline's maintainers with the run's ledger (restricted: send it only by the audit body's "
            "secure route)."
        )
    return DisclosureError(
        f"{what}: an earlier release of the wave published figures from which this release's would follow, "
        "and nothing left to withhold hides it (a correction that moved answers between groups, or took a "
        "published cell below the threshold, does this). Nothing was released: the current release stays. "
        "Clear the correction with the council; it cannot be published in this wave, and not from a new OUT "
        "either, as readers keep the earlier release (docs/disclosure.md, Limits)."
    )


def pinned_by_responses(table: AuditTable, rules: DisclosureRules) -> np.ndarray:
    """Rows whose base a reader would know if they were withheld without being small.

    A row of no more responses than the threshold that is not small rests on exactly that many answers:
    withheld beside a small one, it would hide nothing of the base (and pin the audit's n_valid check).
    """
    return table.bound <= rules.min_valid_answers


def published_unchanged(table: AuditTable, aligned: Sequence[Snapshot]) -> np.ndarray:
    """Cells an earlier release of the wave published with the counts they have now.

    The attacker is assumed to know which cells changed (docs/disclosure.md), so withholding one of these
    hides nothing: a correction's change is protected only by rows that changed with it, or by Wales.
    """
    known = np.zeros(len(table.cells), dtype=bool)
    for snapshot in aligned:
        known |= ~snapshot.withheld & (snapshot.counts == table.counts).all(axis=1)
    return known


def _with(mask: np.ndarray, cell: int) -> np.ndarray:
    mask = mask.copy()
    mask[cell] = True
    return mask
