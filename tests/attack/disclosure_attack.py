"""An attacker's integer program over a published open-data release, written apart from the disclosure code.

The attacker has every published CSV of the release (and of earlier releases of the same wave), the code,
the config and the method. Every printed number is read as the interval its rounding leaves
([v - 0.5 * 10^-d, v + 0.5 * 10^-d], d the decimals printed), an empty cell is unknown and an absent column
is skipped, so the attack does not depend on the rounding rule or the exact layout of the release.

For every withheld row the unknowns are its integer counts (maturity: levels 1-3 and don't know per group;
statements: agreeing, valid but not agreeing, and don't know per group), bounded by the published responses
and tied by everything published: shares and means as linear interval constraints given the bases, the
equal-weight "all" relation (linear once the bases are fixed: unknown bases are enumerated), pooled "all"
statement rows, the Wales sums, Wilson intervals where the base is known. HiGHS (scipy.optimize.milp) then
gives each withheld count's feasible range. Maturity is attacked twice: per council x characteristic (bases
enumerated, interval fingerprint), and per characteristic across councils, where every council's group
counts are tied by its printed rows and by the printed Wales rows (each Wales group row the councils' sum,
n_valid exact and shares and mean as intervals; the Wales all row the equal-weight mean of Wales's groups);
a count's range is the intersection of the two (each program holds, so their intersection does).
Published bootstrap intervals are reproduced with the project's own scoring code and seed for every
candidate ("interval fingerprint"), and releases of the wave are attacked jointly (differencing) with
every council but the corrected one unchanged. Between releases each group row of the corrected council
moves by at most the correction's size in respondents (an all row by the sum of its groups); a correction
no council's printed rows show (it changed only withheld rows) may be any council's, so it adds to the
bound of the next change and loosens the earlier releases' Wales rows by as much.

The figures no program models (level probabilities, likely levels, consensus, effective bases, p-values
against the rest of Wales and their flags, perception gaps) must be functions of published rows:
check_derived_figures checks that none is printed for a withheld row or from one, and that each council's
flags are Benjamini-Hochberg over exactly its printed p-values.

Nothing here imports maturity.disclosure or tasks.publish: only the public scoring code (tasks.score's
bootstrap, maturity.stats' Wilson interval) and the settings, which an attacker has.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

WALES = "W92000004"
ALL = "all"
TOTAL = "total"
WITHHELD_MARK = "[c]"
LEVELS = (1, 2, 3)
# A-priori upper bound of a count whose group has no published responses row.
UNBOUNDED = 100_000
# Enumeration caps: base combinations per cell, candidates per group and per cell for the fingerprint.
MAX_BASE_COMBINATIONS = 3000
MAX_GROUP_CANDIDATES = 200_000
MAX_CELL_CANDIDATES = 20_000
PROTECTION = 2
# Categories of withheld counts. The headline "withheld counts" are the level and agree counts.
HEADLINE = ("level", "agree")


# ----------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float

    def integers(self) -> tuple[int, int]:
        lo = -UNBOUNDED if self.lo == -math.inf else math.ceil(self.lo - 1e-9)
        hi = UNBOUNDED if self.hi == math.inf else math.floor(self.hi + 1e-9)
        return lo, hi

    def contains(self, value: float, eps: float = 1e-9) -> bool:
        return self.lo - eps * max(1.0, abs(value)) <= value <= self.hi + eps * max(1.0, abs(value))


_NUMBER = re.compile(r"[-+]?\d+(?:\.(\d*))?")


def _half(text: str) -> float:
    match = _NUMBER.fullmatch(text)
    decimals = len(match.group(1) or "") if match else 0
    return 0.5 * 10.0**-decimals


def parse_cell(text: Any) -> Interval | None:
    """The interval a printed number stands for; None for an empty or unreadable cell."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = str(text).strip().replace(",", "").replace("%", "")
    if s == "" or s.lower() in {"nan", "none", "null", "na", "n/a", ".."} or s.startswith("["):
        return None
    if _NUMBER.fullmatch(s):
        value, half = float(s), _half(s)
        return Interval(value - half, value + half)
    comparison = re.fullmatch(r"(<=|>=|<|>|≤|≥)\s*([-+]?\d+(?:\.\d*)?)", s)
    if comparison:
        op, number = comparison.groups()
        value = float(number)
        if op in ("<", "<="):
            return Interval(
                -math.inf, value - (1e-6 if op == "<" else 0.0) + (0 if op == "<" else _half(number))
            )
        return Interval(value + (1e-6 if op == ">" else 0.0) - (0 if op == ">" else _half(number)), math.inf)
    span = re.fullmatch(r"([-+]?\d+(?:\.\d*)?)\s*(?:-|\u2013|to)\s*([-+]?\d+(?:\.\d*)?)", s)
    if span:
        a, b = span.groups()
        return Interval(float(a) - _half(a), float(b) + _half(b))
    return None


def parse_bool(text: Any) -> bool | None:
    s = str(text).strip().lower() if text is not None else ""
    if s in {"true", "t", "yes", "y", "1"}:
        return True
    if s in {"false", "f", "no", "n", "0"}:
        return False
    return None


Row = dict[str, str]


def is_withheld(row: Row, figure: str) -> bool:
    """A row is withheld when its status says so, or its main figure is empty although it has answers."""
    if WITHHELD_MARK in row.get("status", ""):
        return True
    if figure in row and row[figure].strip() == "":
        n = parse_cell(row.get("n_valid"))
        return not (n is not None and n.integers() == (0, 0))
    return False


@dataclass
class ReleaseData:
    folder: Path
    wave: str
    responses: dict[tuple[str, str], tuple[int, int]]
    maturity: dict[tuple[str, str], dict[str, Row]]
    statements: dict[tuple[str, str], dict[str, Row]]
    council_text: dict[str, str]
    changes_json: dict | None
    changes_md: str | None
    gaps: list[Row] = field(default_factory=list)  # perception_gaps.csv

    def responses_hi(self, gss: str, group: str) -> int:
        if (gss, group) in self.responses:
            return self.responses[(gss, group)][1]
        if (gss, TOTAL) in self.responses:
            return self.responses[(gss, TOTAL)][1]
        return UNBOUNDED


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)


COMPARED_WITH_WALES = ("p_value_vs_rest_of_wales", "differs_from_rest_of_wales")


def load_release(folder: Path | str) -> ReleaseData:
    """Read a release folder's CSVs by column name."""
    folder = Path(folder)
    rates = _read_csv(folder / "response_rates.csv")
    levels = _read_csv(folder / "maturity_levels.csv")
    statements = _read_csv(folder / "statement_results.csv")
    waves = {w for t in (rates, levels, statements) if t is not None and "wave" in t for w in t["wave"]}
    wave = sorted(waves)[0] if waves else folder.name
    responses: dict[tuple[str, str], tuple[int, int]] = {}
    texts: dict[str, list[str]] = defaultdict(list)
    if rates is not None:
        for row in rates.to_dict("records"):
            iv = parse_cell(row.get("responses"))
            if iv is not None:
                lo, hi = iv.integers()
                responses[(row["gss_code"], row["recipient_group"])] = (max(lo, 0), hi)
            texts[row["gss_code"]].append("rates:" + json.dumps(row, sort_keys=True))

    def index(table: pd.DataFrame | None, item: str, name: str) -> dict[tuple[str, str], dict[str, Row]]:
        cells: dict[tuple[str, str], dict[str, Row]] = defaultdict(dict)
        if table is None:
            return cells
        for row in table.to_dict("records"):
            cells[(row["gss_code"], row[item])][row["recipient_group"]] = row
            # A council's own figures say whether its answers changed; its comparison with the rest of
            # Wales moves whenever any council's answers do, so it says nothing about this council.
            own = {k: v for k, v in row.items() if k not in COMPARED_WITH_WALES}
            texts[row["gss_code"]].append(name + ":" + json.dumps(own, sort_keys=True))
        return cells

    maturity = index(levels, "characteristic", "maturity")
    statement_cells = index(statements, "statement_id", "statements")
    gap_table = _read_csv(folder / "perception_gaps.csv")
    gaps = [] if gap_table is None else gap_table.to_dict("records")
    for row in gaps:
        texts[row["gss_code"]].append("gaps:" + json.dumps(row, sort_keys=True))
    changes_json = None
    if (folder / "CHANGES.json").is_file():
        changes_json = json.loads((folder / "CHANGES.json").read_text(encoding="utf-8"))
    changes_md = (
        (folder / "CHANGES.md").read_text(encoding="utf-8") if (folder / "CHANGES.md").is_file() else None
    )
    council_text = {gss: "\n".join(sorted(lines)) for gss, lines in texts.items() if gss != WALES}
    return ReleaseData(
        folder, wave, responses, maturity, statement_cells, council_text, changes_json, changes_md, gaps
    )


# ----------------------------------------------------------------------------------------- the program

Expr = dict[int, float]


def _lin(*terms: tuple[float, Expr]) -> Expr:
    out: dict[int, float] = defaultdict(float)
    for scale, expr in terms:
        for i, c in expr.items():
            out[i] += scale * c
    return {i: c for i, c in out.items() if c != 0}


def _is_int(value: float) -> bool:
    return float(value).is_integer()


class Model:
    """Non-negative integer variables with upper bounds and two-sided linear constraints."""

    def __init__(self) -> None:
        self.ub: list[float] = []
        self.rows: list[tuple[Expr, float, float]] = []
        self.infeasible = False
        self._compiled: tuple | None = None
        self.solutions: list[np.ndarray] = []  # feasible points found (the program has not changed since)

    def var(self, ub: float) -> int:
        self.ub.append(max(0, ub))
        self._compiled = None
        self.solutions = []
        return len(self.ub) - 1

    def add(self, expr: Expr, lo: float = -math.inf, hi: float = math.inf) -> None:
        expr = {i: c for i, c in expr.items() if c != 0}
        slack_lo = 1e-7 * max(1.0, abs(lo)) if math.isfinite(lo) else 0.0
        slack_hi = 1e-7 * max(1.0, abs(hi)) if math.isfinite(hi) else 0.0
        lo, hi = lo - slack_lo, hi + slack_hi
        if all(_is_int(c) for c in expr.values()):
            lo = math.ceil(lo) if math.isfinite(lo) else lo
            hi = math.floor(hi) if math.isfinite(hi) else hi
        if not expr:
            if lo > 0 or hi < 0:
                self.infeasible = True
            return
        if lo > hi:
            self.infeasible = True
            return
        self.rows.append((expr, lo, hi))
        self._compiled = None
        self.solutions = []

    def _compile(self) -> tuple:
        if self._compiled is None:
            data, rows, cols, lbs, ubs = [], [], [], [], []
            for r, (expr, lo, hi) in enumerate(self.rows):
                for i, c in expr.items():
                    rows.append(r)
                    cols.append(i)
                    data.append(c)
                lbs.append(lo)
                ubs.append(hi)
            n = len(self.ub)
            matrix = csr_array((data, (rows, cols)), shape=(max(len(self.rows), 1), n))
            if not self.rows:
                lbs, ubs = [-np.inf], [np.inf]
            constraint = LinearConstraint(matrix, np.array(lbs, float), np.array(ubs, float))
            self._compiled = (constraint, Bounds(np.zeros(n), np.array(self.ub, float)), np.ones(n))
        return self._compiled

    def optimise(self, expr: Expr, maximise: bool) -> float | None:
        """The optimum of expr (None when infeasible)."""
        if self.infeasible:
            return None
        constraint, bounds, integrality = self._compile()
        c = np.zeros(len(self.ub))
        for i, v in expr.items():
            c[i] = -v if maximise else v
        result = milp(
            c,
            integrality=integrality,
            bounds=bounds,
            constraints=constraint,
            options={"presolve": True, "time_limit": 20.0},
        )
        if result.status != 0 or result.x is None:
            if result.status == 2:
                return None
            raise RuntimeError(f"HiGHS did not solve the attack program: {result.message}")
        self.solutions.append(np.round(result.x))
        value = float(np.dot(c, result.x))
        return round(-value if maximise else value)

    def count_range(self, expr: Expr) -> tuple[int | None, int | None]:
        """Least and greatest value of a sum of counts; a solve is skipped where a feasible point found
        before already reaches the a-priori bound (0, or the sum of the counts' upper bounds)."""
        ceiling = sum(self.ub[i] for i in expr)
        seen = [sum(x[i] for i in expr) for x in self.solutions]
        lo = 0 if 0 in seen else self.optimise(expr, False)
        hi = ceiling if ceiling in seen else self.optimise(expr, True)
        return lo, hi

    def feasible(self) -> bool:
        return self.optimise({}, False) is not None if self.ub else not self.infeasible

    def satisfied(self, points: np.ndarray, columns: Sequence[int]) -> np.ndarray:
        """Which points (rows: values of the variables in columns) meet every row over those variables."""
        where = {v: j for j, v in enumerate(columns)}
        upper = np.array([self.ub[v] for v in columns], dtype=float)
        keep = ((points >= 0) & (points <= upper)).all(axis=1)
        for expr, lo, hi in self.rows:
            if not all(i in where for i in expr):
                continue
            value = sum(c * points[:, where[i]] for i, c in expr.items())
            keep &= (value >= lo - 1e-9) & (value <= hi + 1e-9)
        return keep


def ratio(model: Model, num: Expr, den: Expr | int, iv: Interval | None, scale: float = 1.0) -> None:
    """scale * num / den within iv, as linear constraints (den a constant or a linear expression)."""
    if iv is None:
        return
    if isinstance(den, (int, np.integer)):
        lo = iv.lo * den if math.isfinite(iv.lo) else -math.inf
        hi = iv.hi * den if math.isfinite(iv.hi) else math.inf
        model.add(_lin((scale, num)), lo, hi)
        return
    if math.isfinite(iv.hi):
        model.add(_lin((scale, num), (-iv.hi, den)), -math.inf, 0)
    if math.isfinite(iv.lo):
        model.add(_lin((scale, num), (-iv.lo, den)), 0, math.inf)


def level_constraint(
    model: Model, num: Expr, den: Expr | int, level_text: str, thresholds: Sequence[float]
) -> None:
    """The printed level: mean (num / den) at or above its threshold and at or below the next.

    At a threshold itself either level may be printed: the scoring code compares a floating-point mean
    (18, 15 and 1 of 34 gives 1.4999999999999998, not 51 / 34 = 1.5), so a mean exactly on a threshold is
    allowed on both sides. A rational mean off the threshold is far further from it than a float's error.
    """
    iv = parse_cell(level_text)
    if iv is None:
        return
    lo, hi = iv.integers()
    if lo != hi or not 1 <= lo <= len(thresholds) + 1:
        return
    level = lo
    bounds = [None, *thresholds, None]  # level k: [bounds[k-1], bounds[k])
    low, high = bounds[level - 1], bounds[level]
    for t, below in ((low, False), (high, True)):
        if t is None:
            continue
        frac = Fraction(t).limit_denominator(1000)
        p, q = frac.numerator, frac.denominator
        if isinstance(den, (int, np.integer)):
            if below:
                model.add(_lin((q, num)), -math.inf, p * int(den))
            else:
                model.add(_lin((q, num)), p * int(den), math.inf)
        else:
            expr = _lin((q, num), (-p, den))
            model.add(expr, *((-math.inf, 0) if below else (0, math.inf)))


# ----------------------------------------------------------------------------------------- results


@dataclass
class Target:
    """A withheld quantity and the range the program leaves it."""

    table: str
    gss_code: str
    item: str
    group: str
    category: str  # level, agree, disagree, dont_know, base
    index: int  # level 1-3 for level counts, else 0
    lo: int | None = None
    hi: int | None = None
    truth: int | None = None
    upper: int | None = None  # a-priori upper bound
    small: bool = False  # the group row itself is small (not a secondary suppression)
    across_councils: bool = False  # the cross-council (Wales) program narrowed the per-council range

    @property
    def pinned(self) -> bool:
        """Feasible range a single value (not counting a count that is 0 a priori, as 0 of 0 responses)."""
        return self.lo is not None and self.lo == self.hi and self.upper != 0

    @property
    def within_protection(self) -> bool:
        """Narrowed within ±2: the range spans fewer than 5 values (2 x 2 + 1) and not all that is possible a
        priori (docs/disclosure.md: judged on the range, never on where the truth lies in it, since a check
        against the truth would make the audit's verdict itself informative).

        Checked for small groups' counts (below the threshold, or of unknown base); a withheld figure that
        is not small itself (secondary suppression, an all or Wales row) only must not be pinned exactly.
        """
        if self.lo is None:
            return False
        if not self.small:
            return self.pinned
        upper = self.upper if self.upper is not None else UNBOUNDED
        return self.hi - self.lo < 2 * PROTECTION and not (self.lo <= 0 and self.hi >= upper)

    @property
    def truth_outside(self) -> bool:
        return self.truth is not None and self.lo is not None and not self.lo <= self.truth <= self.hi

    def label(self) -> str:
        what = f"{self.category}{self.index or ''}"
        where = f"{self.table} {self.gss_code} {self.item} {self.group}"
        return f"{where} {what} in [{self.lo}, {self.hi}] (truth {self.truth})"


@dataclass
class Change:
    """The change between two releases in a withheld count of the corrected council."""

    table: str
    gss_code: str
    item: str
    group: str
    category: str
    index: int
    lo: int | None = None
    hi: int | None = None
    truth: int | None = None

    @property
    def pinned(self) -> bool:
        return self.lo is not None and self.lo == self.hi and self.lo != 0

    def label(self) -> str:
        return (
            f"{self.table} {self.gss_code} {self.item} {self.group} {self.category}{self.index or ''}: "
            f"change in [{self.lo}, {self.hi}] (truth {self.truth})"
        )


@dataclass
class Fingerprint:
    gss_code: str
    characteristic: str
    candidates: int  # integer candidates the program allows
    matching: int  # candidates whose recomputed intervals equal the printed ones
    truth_matches: bool | None = None
    matching_levels: int = 0  # distinct level counts (both groups) among the matching candidates


@dataclass
class AttackReport:
    release: Path
    targets: list[Target] = field(default_factory=list)
    unanimity: list[str] = field(default_factory=list)
    fingerprint_cells: list[Fingerprint] = field(default_factory=list)
    fingerprints_skipped: int = 0
    changes: list[Change] = field(default_factory=list)
    changed_councils: list[str] = field(default_factory=list)
    changes_file_leaks: list[str] = field(default_factory=list)
    derived_leaks: list[str] = field(default_factory=list)  # see check_derived_figures
    model_errors: list[str] = field(default_factory=list)
    relaxed_cells: int = 0
    seconds: float = 0.0  # the attack's CPU time in this process (HiGHS runs in it)

    # headline figures
    def _headline(self) -> list[Target]:
        return [t for t in self.targets if t.category in HEADLINE]

    @property
    def withheld_counts(self) -> int:
        return len(self._headline())

    @property
    def pinned_exactly(self) -> list[Target]:
        return [t for t in self._headline() if t.pinned]

    @property
    def pinned_within_2(self) -> list[Target]:
        return [t for t in self._headline() if t.within_protection]

    def by_category(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for t in self.targets:
            entry = out.setdefault(t.category, {"withheld": 0, "pinned": 0, "within_2": 0})
            entry["withheld"] += 1
            entry["pinned"] += t.pinned
            entry["within_2"] += t.within_protection
        return out

    @property
    def leaks(self) -> list[Target]:
        """Every withheld quantity (any category) pinned, or a small group's narrowed within ±2."""
        return [t for t in self.targets if t.within_protection or t.pinned]

    def maturity_rows(self) -> tuple[int, int]:
        """Withheld maturity group rows, and how many have all three level counts pinned."""
        rows: dict[tuple, list[bool]] = defaultdict(list)
        for t in self.targets:
            if t.table == "maturity_levels" and t.category == "level":
                rows[(t.gss_code, t.item, t.group)].append(t.pinned)
        return len(rows), sum(all(p) for p in rows.values())

    @property
    def fingerprints(self) -> list[Fingerprint]:
        return [f for f in self.fingerprint_cells if f.matching == 1]

    @property
    def level_fingerprints(self) -> list[Fingerprint]:
        """Cells whose printed interval leaves one set of level counts (don't know may still vary)."""
        return [f for f in self.fingerprint_cells if f.matching_levels == 1]

    @property
    def pinned_changes(self) -> list[Change]:
        return [c for c in self.changes if c.pinned]

    def summary(self) -> dict[str, Any]:
        rows, whole = self.maturity_rows()
        return {
            "release": str(self.release),
            "withheld_counts": self.withheld_counts,
            "pinned_exactly": len(self.pinned_exactly),
            "pinned_within_2": len(self.pinned_within_2),
            "range_narrower_than_4": sum(
                t.hi - t.lo < 2 * PROTECTION for t in self._headline() if t.lo is not None
            ),
            "by_category": self.by_category(),
            "withheld_maturity_rows": rows,
            "maturity_rows_recovered_whole": whole,
            "unanimity_revealed": len(self.unanimity),
            "fingerprint_cells": len(self.fingerprint_cells),
            "fingerprint_cells_skipped": self.fingerprints_skipped,
            "fingerprints_unique": len(self.fingerprints),
            "fingerprints_unique_levels": len(self.level_fingerprints),
            "changed_councils": self.changed_councils,
            "changes_attacked": len(self.changes),
            "pinned_changes": len(self.pinned_changes),
            "changes_file_leaks": len(self.changes_file_leaks),
            "derived_figure_leaks": len(self.derived_leaks),
            "narrowed_across_councils": sum(t.across_councils for t in self.targets),
            "relaxed_cells": self.relaxed_cells,
            "model_errors": len(self.model_errors),
            "seconds": round(self.seconds, 2),
        }

    def describe(self, examples: int = 5) -> str:
        lines = [json.dumps(self.summary(), indent=2)]
        for title, items in (
            ("pinned within ±2", [t.label() for t in self.leaks]),
            ("unanimity", self.unanimity),
            (
                "fingerprints",
                [f"{f.gss_code} {f.characteristic}: 1 of {f.candidates}" for f in self.fingerprints],
            ),
            ("pinned changes", [c.label() for c in self.pinned_changes]),
            ("CHANGES leaks", self.changes_file_leaks),
            ("derived figure leaks", self.derived_leaks),
            ("model errors", self.model_errors),
        ):
            if items:
                lines.append(f"{title} ({len(items)}):")
                lines.extend(f"  {x}" for x in items[:examples])
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------- truth


@dataclass
class Truth:
    """True counts per cell: maturity (gss, characteristic, group) -> [l1, l2, l3, dk];
    statements (gss, statement, group) -> [agree, not agree, dk]."""

    maturity: dict[tuple[str, str, str], np.ndarray]
    statements: dict[tuple[str, str, str], np.ndarray]

    def maturity_counts(self, gss: str, item: str, groups: Iterable[str]) -> np.ndarray:
        return sum((self.maturity.get((gss, item, g), np.zeros(4, int)) for g in groups), np.zeros(4, int))

    def statement_counts(
        self, gss: str | None, item: str, groups: Iterable[str], councils: Iterable[str] = ()
    ) -> np.ndarray:
        codes = [gss] if gss is not None else list(councils)
        return sum(
            (self.statements.get((c, item, g), np.zeros(3, int)) for c in codes for g in groups),
            np.zeros(3, int),
        )


def read_truth(warehouse: Path | str, wave: str) -> Truth:
    """The true counts from a run's warehouse (restricted data: for checking the attack only)."""
    from maturity.settings import load_settings
    from tasks.score import count_level_answers, count_statement_answers, count_stored_answers

    counted = count_stored_answers(Path(warehouse), wave)
    levels = count_level_answers(counted, load_settings().responses.dont_know)
    maturity = {
        (r.gss_code, r.characteristic, r.recipient_group): np.array(
            [r.n_level_1, r.n_level_2, r.n_level_3, r.n_dont_know], dtype=int
        )
        for r in levels.itertuples()
    }
    statements = {
        (r.gss_code, r.statement_id, r.recipient_group): np.array(
            [r.n_agree, r.n_valid - r.n_agree, r.n_dont_know], dtype=int
        )
        for r in count_statement_answers(counted).itertuples()
    }
    return Truth(maturity, statements)


def _as_truth(truth: Truth | Path | str | None, wave: str) -> Truth | None:
    if truth is None or isinstance(truth, Truth):
        return truth
    return read_truth(truth, wave)


# ----------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Method:
    groups: tuple[str, ...]
    thresholds: tuple[float, float]
    low_base_below: int
    statement_confidence: float
    maturity: Any
    p_value_decimals: int = 4
    false_discovery_rate: float = 0.05
    gap_groups: tuple[str, str] = ("officers", "elected_members")


def _method() -> Method:
    from maturity.settings import load_settings

    settings = load_settings()
    m = settings.maturity
    return Method(
        tuple(settings.recipient_groups),
        (m.level_2_from, m.level_3_from),
        m.low_base_below,
        settings.statement_method.confidence_level,
        m,
        settings.publication.p_value_decimals,
        settings.comparisons.false_discovery_rate,
        tuple(m.perception_gap_groups),
    )


# ----------------------------------------------------------------------------------------- versions


def council_versions(
    releases: Sequence[ReleaseData], corrected: Iterable[str] = ()
) -> dict[tuple[str, int], int]:
    """Which releases share a council's truth: consecutive releases where its rows did not change.

    corrected: councils the attacker knows sent a correction before the last release (even if none of their
    printed rows changed).
    """
    versions: dict[tuple[str, int], int] = {}
    corrected = set(corrected)
    councils = sorted({g for r in releases for g in r.council_text} | corrected)
    for gss in councils:
        version = 0
        for k, release in enumerate(releases):
            known = k == len(releases) - 1 and gss in corrected
            if k > 0 and (known or release.council_text.get(gss) != releases[k - 1].council_text.get(gss)):
                version += 1
            versions[(gss, k)] = version
    return versions


def hidden_corrections(versions: Mapping[tuple[str, int], int], n_releases: int) -> set[int]:
    """Releases (k >= 1) whose correction no council's printed rows show: it changed only withheld rows (and
    Wales rows, which then are withheld too), so the attacker cannot tell which council it was."""
    councils = {gss for gss, _ in versions}
    return {
        k
        for k in range(1, n_releases)
        if all(versions.get((gss, k), 0) == versions.get((gss, k - 1), 0) for gss in councils)
    }


def _correction_steps(
    versions: Mapping[tuple[str, int], int], gss: str, version: int, n_releases: int, hidden: set[int]
) -> int:
    """Corrections between a council's version and the one before it. A version's variables are its truth
    in the last release it lasts (its printed rows are the same in each): the correction that started it,
    and any correction no printed row showed while it lasted (it may have been this council's)."""
    span = [k for k in range(n_releases) if versions.get((gss, k), 0) == version]
    return 1 + sum(1 for j in hidden if span[0] < j <= span[-1])


def _link_correction(
    model: Model, pairs_by_group: Mapping[str, list[tuple[int, int]]], size: int | None, steps: int = 1
) -> None:
    """A council's counts across corrections: each correction changes at most `size` respondents' answers in
    each group (the correction may be an officer's and a member's), so each count of a group row moves by at
    most size and the row's counts in all by at most 2 * size; an all row is the sum of its groups' counts, so
    it moves by theirs. Over `steps` corrections the bounds add up."""
    if size is None:
        return
    bound = size * steps
    for pairs in pairs_by_group.values():
        moves = []
        for before, after in pairs:
            move = model.var(bound)
            model.add({after: 1, before: -1}, -bound, bound)
            model.add({move: 1, after: -1, before: 1}, 0, math.inf)
            model.add({move: 1, after: 1, before: -1}, 0, math.inf)
            moves.append(move)
        if moves:
            model.add({m: 1 for m in moves}, 0, 2 * bound)


def _wales_slack(
    model: Model, groups: Sequence[str], columns: int, size: int | None, steps: int
) -> dict[str, list[Expr]] | None:
    """How far a release's Wales rows may sit from the councils' versions: a version's variables are its
    truth in its last release, so a correction no printed row showed, made after this release, may be in
    them (steps: such corrections). Per group and count a signed change, bounded as _link_correction's;
    None when the correction's size is unknown (the Wales rows then tie nothing)."""
    if steps == 0:
        return {g: [{} for _ in range(columns)] for g in groups}
    if size is None:
        return None
    bound = size * steps
    out: dict[str, list[Expr]] = {}
    for g in groups:
        exprs, parts = [], []
        for _ in range(columns):
            up, down = model.var(bound), model.var(bound)
            exprs.append({up: 1, down: -1})
            parts.extend((up, down))
        model.add({x: 1 for x in parts}, 0, 2 * bound)
        out[g] = exprs
    return out


# ----------------------------------------------------------------------------------------- maturity


FIGURE_MATURITY = "share_level_1_pct"
FIGURE_STATEMENT = "pct_agree"


def _int_iv(row: Row | None, column: str) -> tuple[int, int] | None:
    if row is None:
        return None
    iv = parse_cell(row.get(column))
    return None if iv is None else iv.integers()


def _has_figures(row: Row | None) -> bool:
    if row is None:
        return False
    columns = [*(f"share_level_{k}_pct" for k in LEVELS), "mean_level", "level"]
    return any(parse_cell(row.get(c)) is not None for c in columns)


def _low_base(row: Row | None) -> bool | None:
    return None if row is None or "low_base" not in row else parse_bool(row["low_base"])


def _effective_base(bases: list[int]) -> float:
    bases = [b for b in bases if b > 0]
    return len(bases) ** 2 / sum(1 / b for b in bases) if bases else 0.0


@dataclass
class _CellVars:
    x: dict[tuple[int, str], list[int]]  # (version, group) -> [x1, x2, x3, dk]


def _maturity_group_rows(
    model: Model,
    xs: list[int],
    row: Row | None,
    responses: int,
    n_fixed: int | None,
    method: Method,
    use_low_base: bool,
) -> None:
    model.add({xs[0]: 1, xs[1]: 1, xs[2]: 1, xs[3]: 1}, 0, responses)
    _maturity_row(model, [{x: 1} for x in xs[:3]], row, n_fixed, method, use_low_base)


def _maturity_row(
    model: Model,
    levels: list[Expr],
    row: Row | None,
    n_fixed: int | None,
    method: Method,
    use_low_base: bool,
) -> None:
    """A printed group row over its level counts (each an expression: a sum of councils for Wales)."""
    n_expr = _lin(*((1, e) for e in levels))
    if n_fixed is not None:
        model.add(n_expr, n_fixed, n_fixed)
    if row is None:
        return
    n_iv = _int_iv(row, "n_valid")
    if n_iv is not None:
        model.add(n_expr, *n_iv)
    low = _low_base(row) if use_low_base else None
    if low is True:
        model.add(n_expr, 0, method.low_base_below - 1)
    elif low is False:
        model.add(n_expr, method.low_base_below, math.inf)
    if not _has_figures(row):
        return
    den: Expr | int = n_fixed if n_fixed is not None else n_expr
    if n_fixed is None and n_iv is not None and n_iv[0] == n_iv[1]:
        den = n_iv[0]
    if isinstance(den, int) and den == 0:
        model.infeasible = True
        return
    model.add(n_expr, 1, math.inf)
    for k in LEVELS:
        ratio(model, levels[k - 1], den, parse_cell(row.get(f"share_level_{k}_pct")), scale=100)
    mean_num = _lin(*((k, levels[k - 1]) for k in LEVELS))
    ratio(model, mean_num, den, parse_cell(row.get("mean_level")))
    level_constraint(model, mean_num, den, row.get("level", ""), method.thresholds)


def _maturity_all_row(
    model: Model,
    xs_by_group: dict[str, list[int]],
    row: Row | None,
    bases: dict[str, int] | None,
    method: Method,
) -> None:
    levels = {g: [{x: 1} for x in xs[:3]] for g, xs in xs_by_group.items()}
    _equal_weight_row(model, levels, row, bases, method)


def _equal_weight_row(
    model: Model,
    levels_by_group: dict[str, list[Expr]],
    row: Row | None,
    bases: dict[str, int] | None,
    method: Method,
) -> None:
    """A printed all row: its base the groups' sum; its figures the equal-weight mean (bases known)."""
    if row is None:
        return
    n_all: Expr = _lin(*((1, e) for levels in levels_by_group.values() for e in levels))
    n_iv = _int_iv(row, "n_valid")
    if n_iv is not None:
        model.add(n_all, *n_iv)
    if bases is None or not _has_figures(row):
        return
    contributing = [g for g in levels_by_group if bases[g] > 0]
    if not contributing:
        model.infeasible = True
        return
    product = math.prod(bases[g] for g in contributing)
    den = len(contributing) * product
    weights = {g: product // bases[g] for g in contributing}
    for k in LEVELS:
        num = _lin(*((weights[g], levels_by_group[g][k - 1]) for g in contributing))
        ratio(model, num, den, parse_cell(row.get(f"share_level_{k}_pct")), scale=100)
    mean_num = _lin(*((weights[g] * k, levels_by_group[g][k - 1]) for g in contributing for k in LEVELS))
    ratio(model, mean_num, den, parse_cell(row.get("mean_level")))
    level_constraint(model, mean_num, den, row.get("level", ""), method.thresholds)


def _base_candidates(
    releases: Sequence[ReleaseData],
    versions: dict,
    gss: str,
    item: str,
    groups: Sequence[str],
    method: Method,
    use_low_base: bool,
) -> tuple[list[dict[tuple[int, str], int]] | None, set[int]]:
    """Combinations of bases to fix for the versions whose all row publishes figures (None: too many)."""
    need: set[int] = set()
    for k, release in enumerate(releases):
        if _has_figures(release.maturity.get((gss, item), {}).get(ALL)):
            need.add(versions[(gss, k)])
    if not need:
        return [{}], need
    options: dict[tuple[int, str], list[int]] = {}
    for v in sorted(need):
        for g in groups:
            lo, hi = 0, UNBOUNDED
            for k, release in enumerate(releases):
                if versions[(gss, k)] != v:
                    continue
                hi = min(hi, release.responses_hi(gss, g))
                row = release.maturity.get((gss, item), {}).get(g)
                n_iv = _int_iv(row, "n_valid")
                if n_iv is not None:
                    lo, hi = max(lo, n_iv[0]), min(hi, n_iv[1])
                low = _low_base(row) if use_low_base else None
                if low is True:
                    hi = min(hi, method.low_base_below - 1)
                elif low is False:
                    lo = max(lo, method.low_base_below)
                if _has_figures(row):
                    lo = max(lo, 1)
            options[(v, g)] = list(range(lo, hi + 1))
    keys = list(options)
    size = math.prod(len(o) for o in options.values())
    combos = []
    if size > 50 * MAX_BASE_COMBINATIONS:
        return None, need
    for values in itertools.product(*(options[k] for k in keys)):
        combo = dict(zip(keys, values, strict=True))
        ok = True
        for k, release in enumerate(releases):
            v = versions[(gss, k)]
            if v not in need:
                continue
            row = release.maturity.get((gss, item), {}).get(ALL)
            if row is None:
                continue
            bases = [combo[(v, g)] for g in groups]
            n_iv = _int_iv(row, "n_valid")
            if n_iv is not None and not n_iv[0] <= sum(bases) <= n_iv[1]:
                ok = False
                break
            low = _low_base(row) if use_low_base else None
            if (
                low is not None
                and _has_figures(row)
                and (_effective_base(bases) < method.low_base_below) != low
            ):
                ok = False
                break
            if _has_figures(row) and sum(bases) == 0:
                ok = False
                break
            eff = parse_cell(row.get("n_effective"))
            if eff is not None and not eff.contains(_effective_base(bases)):
                ok = False
                break
        if ok:
            combos.append(combo)
            if len(combos) > MAX_BASE_COMBINATIONS:
                return None, need
    return combos, need


def _maturity_targets(
    cur: ReleaseData, gss: str, item: str, group: str, row: Row, method: Method, truth_cur: Truth | None
) -> list[tuple[Target, list[str], list[int]]]:
    """A withheld maturity row's targets (levels 1-3, don't know, and the base if not printed), each with
    the groups and count columns (0-2 levels, 3 don't know) it sums."""
    groups = list(method.groups)
    members = groups if group == ALL else [group]
    r_hi = sum(cur.responses_hi(gss, g) for g in members)
    n_iv = _int_iv(row, "n_valid")
    n_exact = n_iv[0] if n_iv is not None and n_iv[0] == n_iv[1] else None
    truth = truth_cur.maturity_counts(gss, item, members) if truth_cur is not None else None
    upper = n_exact if n_exact is not None else r_hi
    small = group != ALL and (
        int(truth[:3].sum()) < method.low_base_below
        if truth is not None
        else n_exact is None or n_exact < method.low_base_below
    )

    def target(category: str, index: int, up: int, cols: list[int]) -> tuple[Target, list[str], list[int]]:
        tr = None if truth is None else int(truth[cols].sum())
        t = Target("maturity_levels", gss, item, group, category, index, upper=up, small=small, truth=tr)
        return t, members, cols

    out = [target("level", k, upper, [k - 1]) for k in LEVELS]
    out.append(target("dont_know", 0, r_hi - n_exact if n_exact is not None else r_hi, [3]))
    if n_exact is None:
        out.append(target("base", 0, r_hi, [0, 1, 2]))
    return out


def _attack_maturity_cell(
    releases: Sequence[ReleaseData],
    versions: dict,
    gss: str,
    item: str,
    method: Method,
    report: AttackReport,
    truths: Sequence[Truth | None],
    correction_size: int | None,
    use_low_base: bool,
    fingerprint: bool,
) -> None:
    current = len(releases) - 1
    cur = releases[current]
    groups = [g for g in method.groups]
    cell_rows = cur.maturity.get((gss, item), {})
    withheld = {g: is_withheld(r, FIGURE_MATURITY) for g, r in cell_rows.items()}
    previous = current - 1 if current > 0 else None
    changed = previous is not None and versions[(gss, previous)] != versions[(gss, current)]
    prev_withheld = {}
    if changed:
        prev_withheld = {
            g: is_withheld(r, FIGURE_MATURITY)
            for g, r in releases[previous].maturity.get((gss, item), {}).items()
        }
    want_fingerprint = (
        fingerprint
        and parse_cell(cell_rows.get(ALL, {}).get("ci_lower")) is not None
        and any(withheld.get(g, False) for g in groups)
    )
    if not any(withheld.values()) and not any(prev_withheld.values()) and not want_fingerprint:
        return
    combos, need = _base_candidates(releases, versions, gss, item, groups, method, use_low_base)
    relaxed = combos is None
    if relaxed:
        report.relaxed_cells += 1
        combos, need = [{}], set()
    version_ids = sorted({versions[(gss, k)] for k in range(len(releases))})
    hidden = hidden_corrections(versions, len(releases))

    # Targets: expressions over (version, group) variables, filled per combo.
    truth_cur = truths[current]
    specs: list[tuple[Target, Any]] = []
    for group, row in sorted(cell_rows.items()):
        if withheld.get(group):
            specs.extend(
                (t, ("sum", members, cols))
                for t, members, cols in _maturity_targets(cur, gss, item, group, row, method, truth_cur)
            )
    unanimity_checks = []
    for group in groups:
        if not withheld.get(group):
            continue
        if truth_cur is not None:
            t = truth_cur.maturity_counts(gss, item, [group])
            if t[:3].sum() < 2:
                continue
            levels_to_check = [k for k in LEVELS if t[:3].sum() - t[k - 1] == 0]
        else:
            levels_to_check = list(LEVELS)
        for k in levels_to_check:
            unanimity_checks.append((group, k))
    change_specs: list[tuple[Change, list[int]]] = []
    if changed:
        truth_prev = truths[previous]
        for group in sorted(set(withheld) | set(prev_withheld)):
            if not (withheld.get(group) or prev_withheld.get(group)):
                continue
            members = groups if group == ALL else [group]
            for cat, k, cols in [*(("level", k, [k - 1]) for k in LEVELS), ("dont_know", 0, [3])]:
                tr = None
                if truth_cur is not None and truth_prev is not None:
                    tr = int(
                        truth_cur.maturity_counts(gss, item, members)[cols].sum()
                        - truth_prev.maturity_counts(gss, item, members)[cols].sum()
                    )
                change_specs.append(
                    (Change("maturity_levels", gss, item, group, cat, k, truth=tr), (members, cols))
                )

    ranges: dict[int, list[int | None]] = {i: [None, None] for i in range(len(specs))}
    change_ranges: dict[int, list[int | None]] = {i: [None, None] for i in range(len(change_specs))}
    unanimous_max: dict[int, int | None] = {i: None for i in range(len(unanimity_checks))}
    candidates_total = 0
    matching_total = 0
    truth_matches = None
    level_sets: set[tuple] = set()
    fingerprint_skipped = False
    any_feasible = False
    for combo in combos:
        model = Model()
        xs: dict[tuple[int, str], list[int]] = {}
        for v in version_ids:
            for g in groups:
                r_hi = min(r.responses_hi(gss, g) for k, r in enumerate(releases) if versions[(gss, k)] == v)
                xs[(v, g)] = [model.var(r_hi) for _ in range(4)]
        for k, release in enumerate(releases):
            v = versions[(gss, k)]
            rows = release.maturity.get((gss, item), {})
            for g in groups:
                _maturity_group_rows(
                    model,
                    xs[(v, g)],
                    rows.get(g),
                    release.responses_hi(gss, g),
                    combo.get((v, g)),
                    method,
                    use_low_base,
                )
            bases = {g: combo[(v, g)] for g in groups} if v in need else None
            _maturity_all_row(model, {g: xs[(v, g)] for g in groups}, rows.get(ALL), bases, method)
        for a, b in itertools.pairwise(version_ids):
            _link_correction(
                model,
                {g: [(xs[(a, g)][c], xs[(b, g)][c]) for c in range(4)] for g in groups},
                correction_size,
                _correction_steps(versions, gss, b, len(releases), hidden),
            )
        if not model.feasible():
            continue
        any_feasible = True
        vcur = versions[(gss, current)]

        def expr_for(members: list[str], cols: list[int], v: int = vcur, xs: dict = xs) -> Expr:
            return {xs[(v, g)][c]: 1 for g in members for c in cols}

        for i, (_target, (_, members, cols)) in enumerate(specs):
            e = expr_for(members, cols)
            lo, hi = model.optimise(e, False), model.optimise(e, True)
            cur_lo, cur_hi = ranges[i]
            ranges[i] = [lo if cur_lo is None else min(cur_lo, lo), hi if cur_hi is None else max(cur_hi, hi)]
        for i, (group, k) in enumerate(unanimity_checks):
            others = {xs[(vcur, group)][c]: 1 for c in range(3) if c != k - 1}
            value = model.optimise(others, True)
            unanimous_max[i] = value if unanimous_max[i] is None else max(unanimous_max[i], value)
        if changed:
            vprev = versions[(gss, previous)]
            for i, (_, (members, cols)) in enumerate(change_specs):
                e = _lin((1, expr_for(members, cols, vcur)), (-1, expr_for(members, cols, vprev)))
                lo, hi = model.optimise(e, False), model.optimise(e, True)
                cur_lo, cur_hi = change_ranges[i]
                change_ranges[i] = [
                    lo if cur_lo is None else min(cur_lo, lo),
                    hi if cur_hi is None else max(cur_hi, hi),
                ]
        if want_fingerprint:
            outcome = _fingerprint(
                model,
                {g: xs[(vcur, g)] for g in groups},
                cell_rows,
                cur.wave,
                gss,
                item,
                method,
                truth_cur.maturity if truth_cur is not None else None,
            )
            if outcome is None:
                fingerprint_skipped = True
            else:
                candidates_total += outcome[0]
                matching_total += outcome[1]
                level_sets |= outcome[3]
                if outcome[2] is not None:
                    truth_matches = bool(truth_matches) or outcome[2]
    if not any_feasible:
        report.model_errors.append(f"maturity {gss} {item}: the program is infeasible")
        return
    for i, (target, _) in enumerate(specs):
        target.lo, target.hi = ranges[i]
        report.targets.append(target)
        if target.truth_outside:
            report.model_errors.append("truth outside range: " + target.label())
    for i, (group, k) in enumerate(unanimity_checks):
        if unanimous_max[i] == 0:
            report.unanimity.append(f"maturity_levels {gss} {item} {group}: all valid answers at level {k}")
    for i, (change, _) in enumerate(change_specs):
        change.lo, change.hi = change_ranges[i]
        report.changes.append(change)
        if change.truth is not None and change.lo is not None and not change.lo <= change.truth <= change.hi:
            report.model_errors.append("true change outside range: " + change.label())
    if want_fingerprint:
        if fingerprint_skipped:
            report.fingerprints_skipped += 1
        else:
            report.fingerprint_cells.append(
                Fingerprint(gss, item, candidates_total, matching_total, truth_matches, len(level_sets))
            )
            if truth_matches is False:
                report.model_errors.append(
                    f"fingerprint {gss} {item}: the truth does not reproduce the intervals"
                )


def _fingerprint(
    model: Model,
    xs_by_group: dict[str, list[int]],
    cell_rows: dict[str, Row],
    wave: str,
    gss: str,
    item: str,
    method: Method,
    truth: dict | None,
) -> tuple[int, int, bool | None] | None:
    """Candidates of the cell's counts the program allows, and how many reproduce every printed interval."""
    from tasks.score import GroupSample, cell_rng, summarise_cell

    per_group: dict[str, np.ndarray] = {}
    for g, xs in xs_by_group.items():
        bounds = [(model.optimise({x: 1}, False), model.optimise({x: 1}, True)) for x in xs]
        n_lo = model.optimise({xs[0]: 1, xs[1]: 1, xs[2]: 1}, False)
        n_hi = model.optimise({xs[0]: 1, xs[1]: 1, xs[2]: 1}, True)
        size = math.prod(hi - lo + 1 for lo, hi in bounds[:2]) * (bounds[3][1] - bounds[3][0] + 1)
        if n_lo != n_hi:
            size *= bounds[2][1] - bounds[2][0] + 1
        if size > MAX_GROUP_CANDIDATES:
            return None
        axes = [np.arange(lo, hi + 1) for lo, hi in bounds]
        if n_lo == n_hi:
            grid = np.array(np.meshgrid(axes[0], axes[1], axes[3], indexing="ij")).reshape(3, -1).T
            points = np.column_stack([grid[:, 0], grid[:, 1], n_lo - grid[:, 0] - grid[:, 1], grid[:, 2]])
        else:
            points = np.array(np.meshgrid(*axes, indexing="ij")).reshape(4, -1).T
        points = points[model.satisfied(points, xs)]
        per_group[g] = points
    groups = list(xs_by_group)
    count = math.prod(len(p) for p in per_group.values())
    if count > MAX_GROUP_CANDIDATES * 10:
        return None
    index = (
        np.array(np.meshgrid(*(np.arange(len(per_group[g])) for g in groups), indexing="ij"))
        .reshape(len(groups), -1)
        .T
    )
    joint = np.hstack([per_group[g][index[:, j]] for j, g in enumerate(groups)])
    columns = [x for g in groups for x in xs_by_group[g]]
    joint = joint[model.satisfied(joint, columns)]
    if len(joint) > MAX_CELL_CANDIDATES:
        return None
    printed = {
        g: (parse_cell(r.get("ci_lower")), parse_cell(r.get("ci_upper"))) for g, r in cell_rows.items()
    }
    rows_of = {g: j for j, g in enumerate([*groups, ALL])}

    def reproduces(counts: np.ndarray) -> bool:
        samples = {g: GroupSample(counts[4 * j : 4 * j + 4].astype("int64")) for j, g in enumerate(groups)}
        rows = summarise_cell(
            samples, method.maturity, cell_rng(method.maturity.bootstrap_seed, wave, gss, item)
        )
        for g, (lo, hi) in printed.items():
            if g not in rows_of:
                continue
            got = rows[rows_of[g]]
            for iv, value in ((lo, got["ci_lower"]), (hi, got["ci_upper"])):
                if iv is not None and not (np.isfinite(value) and iv.contains(float(value))):
                    return False
        return True

    matched = [c for c in joint if reproduces(c)]
    matching = len(matched)
    level_sets = {tuple(c[[4 * j + i for j in range(len(groups)) for i in range(3)]]) for c in matched}
    truth_ok = None
    if truth is not None:
        counts = np.concatenate([truth.get((gss, item, g), np.zeros(4, int)) for g in groups])
        truth_ok = reproduces(counts)
    return len(joint), matching, truth_ok, level_sets


def _bases_of(rows: Mapping[str, Row], groups: Sequence[str]) -> dict[str, int] | None:
    """Each group's base where the printed rows fix it: its own n_valid, or else (one group missing) the
    all row's n_valid, or its n_effective, less the other groups'. None when some base stays open."""
    exact: dict[str, int] = {}
    for g in groups:
        iv = _int_iv(rows.get(g), "n_valid")
        if iv is not None and iv[0] == iv[1]:
            exact[g] = iv[0]
    missing = [g for g in groups if g not in exact]
    if not missing:
        return exact
    if len(missing) > 1 or rows.get(ALL) is None:
        return None
    n_iv = _int_iv(rows.get(ALL), "n_valid")
    if n_iv is not None and n_iv[0] == n_iv[1]:
        return {**exact, missing[0]: n_iv[0] - sum(exact.values())}
    eff = parse_cell(rows[ALL].get("n_effective"))
    if eff is None or not exact or min(exact.values()) <= 0 or eff.lo <= 0:
        return None
    # len(groups)^2 / n_effective = sum of 1 / base over the groups (every base positive)
    rest = sum(1 / b for b in exact.values())
    k2 = len(groups) ** 2
    inv_lo, inv_hi = k2 / eff.hi - rest, k2 / eff.lo - rest
    if inv_hi <= 0:
        return None
    b_lo = math.ceil(1 / inv_hi - 1e-9)
    b_hi = math.floor(1 / inv_lo + 1e-9) if inv_lo > 0 else UNBOUNDED
    return {**exact, missing[0]: b_lo} if b_lo == b_hi else None


def _merge_range(target: Target | Change, lo: int | None, hi: int | None) -> bool:
    """Intersect a range found by another program (both hold): whether it narrowed the one there."""
    if lo is None or hi is None:
        return False
    if target.lo is None or target.hi is None:
        target.lo, target.hi = lo, hi
        return True
    narrowed = lo > target.lo or hi < target.hi
    target.lo, target.hi = max(target.lo, lo), min(target.hi, hi)
    return narrowed


def _attack_maturity_wales(
    releases: Sequence[ReleaseData],
    versions: dict,
    item: str,
    method: Method,
    report: AttackReport,
    truths: Sequence[Truth | None],
    correction_size: int | None,
    use_low_base: bool,
) -> None:
    """One characteristic across councils: every council's group counts, tied by its printed rows and by
    the printed Wales rows (each group's counts the councils' sum; Wales's all row their equal-weight
    mean). Narrows the per-council ranges already in the report (both programs hold, so their
    intersection does) and adds what Wales alone pins."""
    current = len(releases) - 1
    cur = releases[current]
    groups = list(method.groups)
    if not any(r.maturity.get((WALES, item)) for r in releases):
        return
    councils = sorted(
        {gss for r in releases for (gss, it) in r.maturity if it == item and gss != WALES}
        | {gss for r in releases for (gss, _) in r.responses if gss != WALES}
    )

    def ver(gss: str, k: int) -> int:
        return versions.get((gss, k), 0)

    previous = current - 1 if current > 0 else None
    changed = [gss for gss in councils if previous is not None and ver(gss, previous) != ver(gss, current)]
    withheld = [
        (gss, group, row)
        for gss in councils
        for group, row in sorted(cur.maturity.get((gss, item), {}).items())
        if is_withheld(row, FIGURE_MATURITY)
    ]
    if not withheld and not changed:
        return
    hidden = hidden_corrections(versions, len(releases))
    model = Model()
    xs: dict[tuple[str, int, str], list[int]] = {}
    for gss in councils:
        for v in sorted({ver(gss, k) for k in range(len(releases))}):
            for g in groups:
                r_hi = min(r.responses_hi(gss, g) for k, r in enumerate(releases) if ver(gss, k) == v)
                xs[(gss, v, g)] = [model.var(r_hi) for _ in range(4)]
    for k, release in enumerate(releases):
        for gss in councils:
            v = ver(gss, k)
            rows = release.maturity.get((gss, item), {})
            for g in groups:
                _maturity_group_rows(
                    model,
                    xs[(gss, v, g)],
                    rows.get(g),
                    release.responses_hi(gss, g),
                    None,
                    method,
                    use_low_base,
                )
            bases = _bases_of(rows, groups) if _has_figures(rows.get(ALL)) else None
            _maturity_all_row(model, {g: xs[(gss, v, g)] for g in groups}, rows.get(ALL), bases, method)
        wales = release.maturity.get((WALES, item), {})
        slack = _wales_slack(model, groups, 3, correction_size, sum(j > k for j in hidden))
        if slack is None:
            continue
        sums = {
            g: [
                _lin(*((1, {xs[(gss, ver(gss, k), g)][c]: 1}) for gss in councils), (1, slack[g][c]))
                for c in range(3)
            ]
            for g in groups
        }
        for g in groups:
            _maturity_row(model, sums[g], wales.get(g), None, method, use_low_base)
        _equal_weight_row(model, sums, wales.get(ALL), _bases_of(wales, groups), method)
    for gss in councils:
        vs = sorted({ver(gss, k) for k in range(len(releases))})
        for a, b in itertools.pairwise(vs):
            _link_correction(
                model,
                {g: [(xs[(gss, a, g)][c], xs[(gss, b, g)][c]) for c in range(4)] for g in groups},
                correction_size,
                _correction_steps(versions, gss, b, len(releases), hidden),
            )
    if not model.feasible():
        report.model_errors.append(f"maturity {item} across councils: the program is infeasible")
        return
    truth_cur = truths[current]
    found = {(t.table, t.gss_code, t.item, t.group, t.category, t.index): t for t in report.targets}

    def counts(gss: str, members: Iterable[str], cols: Iterable[int], v: int) -> Expr:
        return {xs[(gss, v, g)][c]: 1 for g in members for c in cols}

    for gss, group, row in withheld:
        vcur = ver(gss, current)
        for t, members, cols in _maturity_targets(cur, gss, item, group, row, method, truth_cur):
            lo, hi = model.count_range(counts(gss, members, cols, vcur))
            key = (t.table, t.gss_code, t.item, t.group, t.category, t.index)
            if key not in found:
                found[key] = t
                report.targets.append(t)
            if _merge_range(found[key], lo, hi):
                found[key].across_councils = True
            if t.truth is not None and lo is not None and not lo <= t.truth <= hi:
                report.model_errors.append(f"truth outside range across councils: {t.label()} [{lo}, {hi}]")
        if group == ALL:
            continue
        levels_to_check = list(LEVELS)
        if truth_cur is not None:
            tr = truth_cur.maturity_counts(gss, item, [group])
            levels_to_check = [k for k in LEVELS if tr[:3].sum() >= 2 and tr[:3].sum() == tr[k - 1]]
        for k in levels_to_check:
            others = counts(gss, [group], [c for c in range(3) if c != k - 1], vcur)
            if any(sum(x[i] for i in others) > 0 for x in model.solutions):
                continue
            label = f"maturity_levels {gss} {item} {group}: all valid answers at level {k}"
            if model.optimise(others, True) == 0 and label not in report.unanimity:
                report.unanimity.append(label)
    # Differencing: the corrected councils' withheld rows, in either release.
    if previous is None:
        return
    truth_prev = truths[previous]
    known = {(c.table, c.gss_code, c.item, c.group, c.category, c.index): c for c in report.changes}
    for gss in changed:
        rows_cur = cur.maturity.get((gss, item), {})
        rows_prev = releases[previous].maturity.get((gss, item), {})
        for group in sorted(set(rows_cur) | set(rows_prev)):
            if not (
                is_withheld(rows_cur.get(group, {}), FIGURE_MATURITY)
                or is_withheld(rows_prev.get(group, {}), FIGURE_MATURITY)
            ):
                continue
            members = groups if group == ALL else [group]
            for cat, k, cols in [*(("level", k, [k - 1]) for k in LEVELS), ("dont_know", 0, [3])]:
                tr = None
                if truth_cur is not None and truth_prev is not None:
                    tr = int(
                        truth_cur.maturity_counts(gss, item, members)[cols].sum()
                        - truth_prev.maturity_counts(gss, item, members)[cols].sum()
                    )
                e = _lin(
                    (1, counts(gss, members, cols, ver(gss, current))),
                    (-1, counts(gss, members, cols, ver(gss, previous))),
                )
                lo, hi = model.optimise(e, False), model.optimise(e, True)
                key = ("maturity_levels", gss, item, group, cat, k)
                if key not in known:
                    known[key] = Change("maturity_levels", gss, item, group, cat, k, truth=tr)
                    report.changes.append(known[key])
                _merge_range(known[key], lo, hi)
                if tr is not None and lo is not None and not lo <= tr <= hi:
                    report.model_errors.append(
                        f"true change outside range across councils: {known[key].label()} [{lo}, {hi}]"
                    )


# ----------------------------------------------------------------------------------------- statements


def _wilson_allowed(n: int, row: Row, confidence: float) -> tuple[int, int] | None:
    """The agree counts out of n whose printed % agree and Wilson interval match the row."""
    from maturity.stats import wilson_interval

    agree = np.arange(n + 1)
    share = agree / n
    lower, upper = wilson_interval(share, np.full(n + 1, n), confidence)
    keep = np.ones(n + 1, dtype=bool)
    for column, values in (("pct_agree", share), ("ci_lower", lower), ("ci_upper", upper)):
        iv = parse_cell(row.get(column))
        if iv is not None:
            v = 100 * values
            keep &= (v >= iv.lo - 1e-7) & (v <= iv.hi + 1e-7)
    if not keep.any():
        return None
    return int(agree[keep].min()), int(agree[keep].max())


def _statement_row(
    model: Model, agree: Expr, valid: Expr, row: Row | None, confidence: float, low_base_below: int | None
) -> None:
    if row is None:
        return
    n_iv = _int_iv(row, "n_valid")
    if n_iv is not None:
        model.add(valid, *n_iv)
    if low_base_below is not None:
        low = _low_base(row)
        if low is True:
            model.add(valid, 0, low_base_below - 1)
        elif low is False:
            model.add(valid, low_base_below, math.inf)
    figures = [parse_cell(row.get(c)) for c in ("pct_agree", "ci_lower", "ci_upper")]
    if all(f is None for f in figures):
        return
    model.add(valid, 1, math.inf)
    if n_iv is not None and n_iv[0] == n_iv[1]:
        allowed = _wilson_allowed(n_iv[0], row, confidence) if n_iv[0] > 0 else None
        if allowed is None:
            model.infeasible = True
            return
        model.add(agree, *allowed)
    else:
        ratio(model, agree, valid, figures[0], scale=100)


def _attack_statement(
    releases: Sequence[ReleaseData],
    versions: dict,
    item: str,
    method: Method,
    report: AttackReport,
    truths: Sequence[Truth | None],
    correction_size: int | None,
    use_low_base: bool,
) -> None:
    current = len(releases) - 1
    cur = releases[current]
    groups = list(method.groups)
    councils = sorted({gss for r in releases for (gss, it) in r.statements if it == item and gss != WALES})
    hidden = hidden_corrections(versions, len(releases))
    model = Model()
    xs: dict[tuple[str, int, str], list[int]] = {}
    for gss in councils:
        for v in sorted({versions.get((gss, k), 0) for k in range(len(releases))}):
            for g in groups:
                r_hi = min(
                    r.responses_hi(gss, g) for k, r in enumerate(releases) if versions.get((gss, k), 0) == v
                )
                xs[(gss, v, g)] = [model.var(r_hi) for _ in range(3)]
    low = method.low_base_below if use_low_base else None

    def ver(gss: str, k: int) -> int:
        return versions.get((gss, k), 0)

    def agree_of(gss: str, v: int, members: Iterable[str]) -> Expr:
        return {xs[(gss, v, g)][0]: 1 for g in members}

    def valid_of(gss: str, v: int, members: Iterable[str]) -> Expr:
        return {xs[(gss, v, g)][c]: 1 for g in members for c in (0, 1)}

    for k, release in enumerate(releases):
        for gss in councils:
            v = ver(gss, k)
            rows = release.statements.get((gss, item), {})
            for g in groups:
                x = xs[(gss, v, g)]
                model.add({x[0]: 1, x[1]: 1, x[2]: 1}, 0, release.responses_hi(gss, g))
                _statement_row(
                    model,
                    agree_of(gss, v, [g]),
                    valid_of(gss, v, [g]),
                    rows.get(g),
                    method.statement_confidence,
                    low,
                )
            _statement_row(
                model,
                agree_of(gss, v, groups),
                valid_of(gss, v, groups),
                rows.get(ALL),
                method.statement_confidence,
                None,
            )
        wales = release.statements.get((WALES, item), {})
        slack = _wales_slack(model, groups, 2, correction_size, sum(j > k for j in hidden)) if wales else None
        if slack is None:
            continue
        for g, row in wales.items():
            members = groups if g == ALL else [g]
            a = _lin(*((1, agree_of(gss, ver(gss, k), members)) for gss in councils))
            a = _lin((1, a), *((1, slack[m][0]) for m in members))
            n = _lin(*((1, valid_of(gss, ver(gss, k), members)) for gss in councils))
            n = _lin((1, n), *((1, slack[m][c]) for m in members for c in (0, 1)))
            _statement_row(model, a, n, row, method.statement_confidence, None)
    for gss in councils:
        vs = sorted({ver(gss, k) for k in range(len(releases))})
        for a, b in itertools.pairwise(vs):
            _link_correction(
                model,
                {g: [(xs[(gss, a, g)][c], xs[(gss, b, g)][c]) for c in range(3)] for g in groups},
                correction_size,
                _correction_steps(versions, gss, b, len(releases), hidden),
            )
    if not model.feasible():
        report.model_errors.append(f"statements {item}: the program is infeasible")
        return
    truth_cur = truths[current]
    previous = current - 1 if current > 0 else None

    def target_exprs(gss: str, group: str, v: int) -> dict[str, Expr]:
        if gss == WALES:
            members = groups if group == ALL else [group]
            terms = [(gss_c, ver(gss_c, current)) for gss_c in councils]
            agree = _lin(*((1, agree_of(c, vv, members)) for c, vv in terms))
            valid = _lin(*((1, valid_of(c, vv, members)) for c, vv in terms))
            dk = {xs[(c, vv, g)][2]: 1 for c, vv in terms for g in members}
        else:
            members = groups if group == ALL else [group]
            agree, valid = agree_of(gss, v, members), valid_of(gss, v, members)
            dk = {xs[(gss, v, g)][2]: 1 for g in members}
        return {"agree": agree, "disagree": _lin((1, valid), (-1, agree)), "dont_know": dk, "base": valid}

    for (gss, it), rows in sorted(cur.statements.items()):
        if it != item:
            continue
        for group, row in sorted(rows.items()):
            if not is_withheld(row, FIGURE_STATEMENT):
                continue
            members = groups if group == ALL else [group]
            codes = councils if gss == WALES else [gss]
            r_hi = sum(cur.responses_hi(c, g) for c in codes for g in members)
            n_iv = _int_iv(row, "n_valid")
            n_exact = n_iv[0] if n_iv is not None and n_iv[0] == n_iv[1] else None
            truth = None
            if truth_cur is not None:
                truth = truth_cur.statement_counts(None if gss == WALES else gss, item, members, councils)
            exprs = target_exprs(gss, group, ver(gss, current))
            small = group != ALL and gss != WALES
            if truth is not None:
                small = small and int(truth[0] + truth[1]) < method.low_base_below
            else:
                small = small and (n_exact is None or n_exact < method.low_base_below)
            upper = n_exact if n_exact is not None else r_hi
            wanted = [
                ("agree", upper, 0),
                ("disagree", upper, 1),
                ("dont_know", r_hi - n_exact if n_exact is not None else r_hi, 2),
            ]
            if n_exact is None:
                wanted.append(("base", r_hi, None))
            found = {}
            for cat, up, col in wanted:
                tr = None
                if truth is not None:
                    tr = int(truth[0] + truth[1]) if col is None else int(truth[col])
                t = Target("statement_results", gss, item, group, cat, 0, upper=up, truth=tr, small=small)
                t.lo, t.hi = model.optimise(exprs[cat], False), model.optimise(exprs[cat], True)
                report.targets.append(t)
                found[cat] = t
                if t.truth_outside:
                    report.model_errors.append("truth outside range: " + t.label())
            if group != ALL and gss != WALES and (truth is None or truth[0] + truth[1] >= 2):
                for cat, what in (("disagree", "all agree"), ("agree", "none agree")):
                    if found[cat].hi == 0 and (truth is None or truth[0 if cat == "agree" else 1] == 0):
                        report.unanimity.append(f"statement_results {gss} {item} {group}: {what}")
    # Differencing: the corrected council's withheld rows, in either release.
    if previous is None:
        return
    truth_prev = truths[previous]
    for gss in councils:
        if ver(gss, previous) == ver(gss, current):
            continue
        rows_cur = cur.statements.get((gss, item), {})
        rows_prev = releases[previous].statements.get((gss, item), {})
        for group in sorted(set(rows_cur) | set(rows_prev)):
            if not (
                is_withheld(rows_cur.get(group, {}), FIGURE_STATEMENT)
                or is_withheld(rows_prev.get(group, {}), FIGURE_STATEMENT)
            ):
                continue
            members = groups if group == ALL else [group]
            now, before = (
                target_exprs(gss, group, ver(gss, current)),
                target_exprs(gss, group, ver(gss, previous)),
            )
            for cat, col in (("agree", 0), ("disagree", 1), ("dont_know", 2)):
                tr = None
                if truth_cur is not None and truth_prev is not None:
                    tr = int(
                        truth_cur.statement_counts(gss, item, members)[col]
                        - truth_prev.statement_counts(gss, item, members)[col]
                    )
                e = _lin((1, now[cat]), (-1, before[cat]))
                change = Change(
                    "statement_results",
                    gss,
                    item,
                    group,
                    cat,
                    0,
                    model.optimise(e, False),
                    model.optimise(e, True),
                    tr,
                )
                report.changes.append(change)
                if tr is not None and not change.lo <= tr <= change.hi:
                    report.model_errors.append("true change outside range: " + change.label())


# ----------------------------------------------------------------------------------------- CHANGES files


def _withheld_cells(release: ReleaseData) -> dict[str, dict[tuple, set[str]]]:
    """Per table, the row keys (as sorted key=value pairs) of withheld rows and their empty columns."""
    out: dict[str, dict[tuple, set[str]]] = {"maturity_levels": {}, "statement_results": {}}
    for table, cells, _item, figure in (
        ("maturity_levels", release.maturity, "characteristic", FIGURE_MATURITY),
        ("statement_results", release.statements, "statement_id", FIGURE_STATEMENT),
    ):
        for (gss, it), rows in cells.items():
            for group, row in rows.items():
                if is_withheld(row, figure):
                    key = (gss, it, group)
                    out[table][key] = {c for c, v in row.items() if str(v).strip() == ""} | {"*"}
    return out


def _key_of(key: Mapping[str, Any], table: str) -> tuple:
    item = "characteristic" if table == "maturity_levels" else "statement_id"
    return (str(key.get("gss_code", "")), str(key.get(item, "")), str(key.get("recipient_group", "")))


def check_changes_files(current: ReleaseData, previous: ReleaseData | None) -> list[str]:
    """Every value CHANGES.json / CHANGES.md report for a cell withheld in either release."""
    withheld = [_withheld_cells(current)] + ([_withheld_cells(previous)] if previous is not None else [])
    leaks: list[str] = []

    def check(table: str, key: tuple, column: str, values: Iterable[Any], source: str) -> None:
        if table not in withheld[0]:
            return
        for cells in withheld:
            empty = cells[table].get(key)
            if (
                empty is not None
                and column in empty
                and any(str(v).strip() not in ("", "None", "null") for v in values)
            ):
                leaks.append(f"{source}: {table} {key} {column} {list(values)}")
                return

    if current.changes_json:
        for table, diff in current.changes_json.get("tables", {}).items():
            for entry in diff.get("values_changed", []):
                check(
                    table,
                    _key_of(entry.get("key", {}), table),
                    entry.get("column", ""),
                    [entry.get("old"), entry.get("new")],
                    "CHANGES.json",
                )
            for kind in ("rows_added", "rows_removed"):
                for entry in diff.get(kind, []):
                    if isinstance(entry, dict):
                        key = _key_of(entry.get("key", entry), table)
                        for column, value in entry.items():
                            if column != "key":
                                check(table, key, column, [value], f"CHANGES.json {kind}")
    if current.changes_md:
        for line in current.changes_md.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 5 or "=" not in cells[1]:
                continue
            table, row, column, old, new = cells
            key = dict(part.split("=", 1) for part in (p.strip() for p in row.split(",")) if "=" in part)
            check(table, _key_of(key, table), column, [old, new], "CHANGES.md")
    return leaks


# ----------------------------------------------------------------------------------------- derived figures

# Columns of a maturity or statement row that identify it or that the integer programs read.
_KEY_COLUMNS = {
    "wave",
    "gss_code",
    "council_name_en",
    "council_name_cy",
    "characteristic",
    "statement_id",
    "theme",
    "recipient_group",
    "status",
    "n_valid",
    "low_base",
}
P_VALUE, DIFFERS = COMPARED_WITH_WALES
_MEASURES = {"mean_level": ("maturity", "mean_level"), "pct_agree": ("statements", "pct_agree")}


def _published(rows: Mapping[str, Row], group: str, figure: str) -> bool:
    return group in rows and not is_withheld(rows[group], figure)


def check_derived_figures(release: ReleaseData, method: Method) -> list[str]:
    """The figures the integer programs do not model are functions of published rows only.

    - a withheld row prints nothing but its base and low-base flag (which the programs read): no level
      probability, likely level, consensus, effective base, interval, p-value or flag;
    - a comparison with the rest of Wales (p-value, flag) is printed only where the council's rows it is
      computed from and Wales's rows (the rest of Wales is Wales less the council) are all published;
    - each council's flags are Benjamini-Hochberg over exactly its printed p-values (a family that also
      held withheld comparisons would let them move a published flag);
    - a perception gap is printed only where both groups' rows are published, and its figures are theirs.
    """
    leaks: list[str] = []
    groups = list(method.groups)
    half_p = 0.5 * 10.0**-method.p_value_decimals
    families: dict[str, list[tuple[str, Interval, bool | None]]] = defaultdict(list)
    for table, cells, figure in (
        ("maturity_levels", release.maturity, FIGURE_MATURITY),
        ("statement_results", release.statements, FIGURE_STATEMENT),
    ):
        for (gss, item), rows in sorted(cells.items()):
            wales = cells.get((WALES, item), {})
            for group, row in sorted(rows.items()):
                where = f"{table} {gss} {item} {group}"
                if is_withheld(row, figure):
                    printed = sorted(c for c, v in row.items() if c not in _KEY_COLUMNS and str(v).strip())
                    if printed:
                        leaks.append(f"{where}: withheld row prints {printed}")
                    continue
                p_text, flag_text = str(row.get(P_VALUE, "")).strip(), str(row.get(DIFFERS, "")).strip()
                if not p_text and not flag_text:
                    continue
                # Inputs of the comparison: maturity all rows compare group by group, statements pool.
                members = groups if table == "maturity_levels" and group == ALL else [group]
                needed = [(gss, g) for g in {group, *members}] + [(WALES, g) for g in {group, *members}]
                missing = [
                    f"{c} {g}" for c, g in needed if not _published(rows if c == gss else wales, g, figure)
                ]
                if missing:
                    leaks.append(f"{where}: compared with the rest of Wales although {missing} withheld")
                p_iv = parse_cell(p_text)
                if p_iv is None and parse_bool(flag_text) is False:
                    continue  # no p-value (nothing to compare): never a discovery, not in the family
                if p_iv is None or not flag_text:
                    leaks.append(f"{where}: p-value {p_text!r} and flag {flag_text!r} printed apart")
                    continue
                value = (p_iv.lo + p_iv.hi) / 2
                families[gss].append((where, Interval(value - half_p, value + half_p), parse_bool(flag_text)))
    for gss, family in sorted(families.items()):
        if not _bh_consistent([(iv, flag) for _, iv, flag in family], method.false_discovery_rate):
            leaks.append(
                f"{gss}: the flags are not Benjamini-Hochberg over its {len(family)} printed p-values"
            )
    first, second = method.gap_groups
    for gap in release.gaps:
        gss, item, measure = gap.get("gss_code", ""), gap.get("item_id", ""), gap.get("measure", "")
        where = f"perception_gaps {gss} {measure} {item}"
        if measure not in _MEASURES:
            continue
        table, column = _MEASURES[measure]
        cells = release.maturity if table == "maturity" else release.statements
        rows = cells.get((gss, item), {})
        figure = FIGURE_MATURITY if table == "maturity" else FIGURE_STATEMENT
        withheld = [g for g in (first, second) if not _published(rows, g, figure)]
        if withheld:
            leaks.append(f"{where}: a gap although {withheld} not published")
            continue
        values = {g: parse_cell(rows[g].get(column)) for g in (first, second)}
        printed = {g: parse_cell(gap.get(g)) for g in (first, second)}
        for g in (first, second):
            if printed[g] is not None and (values[g] is None or not _overlap(printed[g], values[g])):
                leaks.append(f"{where}: {g} {gap.get(g)} is not the published {column}")
        a, b, d = values[first], values[second], parse_cell(gap.get("gap"))
        if (
            a is not None
            and b is not None
            and d is not None
            and not _overlap(d, Interval(a.lo - b.hi, a.hi - b.lo))
        ):
            leaks.append(f"{where}: gap {gap.get('gap')} is not {first} - {second} as published")
    return leaks


def _overlap(a: Interval, b: Interval, eps: float = 1e-9) -> bool:
    return a.lo <= b.hi + eps and b.lo <= a.hi + eps


def _bh_consistent(family: list[tuple[Interval, bool | None]], rate: float) -> bool:
    """Whether some p-values within their rounding make Benjamini-Hochberg over this family (and nothing
    else) flag exactly the flagged ones: the flagged the K smallest, p_(K) <= K q / m, p_(j) > j q / m
    for every j > K (flagged p-values at their least, the others at their greatest)."""
    m = len(family)
    flagged = sorted(iv.lo for iv, f in family if f)
    others = sorted(iv.hi for iv, f in family if not f)
    k = len(flagged)
    if k and flagged[-1] > k * rate / m + 1e-12:
        return False
    if k and others and flagged[-1] > others[0] + 1e-12:
        return False
    return all(p > (k + i + 1) * rate / m - 1e-12 for i, p in enumerate(others))


# ----------------------------------------------------------------------------------------- entry point


def attack_release(
    release_dir: Path | str,
    previous_release_dirs: Sequence[Path | str] = (),
    truth: Truth | Path | str | None = None,
    *,
    previous_truths: Sequence[Truth | Path | str | None] = (),
    correction_size: int | None = 1,
    use_low_base: bool = True,
    fingerprint: bool = True,
    corrected: Sequence[str] = (),
) -> AttackReport:
    """Attack a release folder (open-data/<wave>), jointly with earlier releases of the wave (oldest first).

    truth: the run's warehouse folder (or a Truth) to check every feasible range against; previous_truths
    the same for the earlier releases (needed to check the true change between releases).
    correction_size: between two releases the attacker knows that each correction changed at most this many
    respondents' answers in each group of the council whose rows changed (each count of a group row moves by
    at most this, the row's counts in all by twice this; an all row by the sum of its groups'; over several
    corrections the bounds add up, a correction no printed row shows counting for every council); None: no
    such knowledge.
    corrected: the councils the attacker knows sent the correction before this release (besides those whose
    printed rows changed).
    """
    started = time.process_time()  # CPU seconds: a loaded machine stretches wall time, not this
    releases = [load_release(p) for p in previous_release_dirs] + [load_release(release_dir)]
    cur = releases[-1]
    truths = [
        _as_truth(previous_truths[k] if k < len(previous_truths) else None, r.wave)
        for k, r in enumerate(releases[:-1])
    ] + [_as_truth(truth, cur.wave)]
    method = _method()
    versions = council_versions(releases, corrected if len(releases) > 1 else ())
    report = AttackReport(Path(release_dir))
    if len(releases) > 1:
        report.changed_councils = sorted(
            {
                gss
                for (gss, k), v in versions.items()
                if k == len(releases) - 1 and v != versions.get((gss, k - 1), v)
            }
        )
        report.changes_file_leaks = check_changes_files(cur, releases[-2])
    else:
        report.changes_file_leaks = check_changes_files(cur, None)
    report.derived_leaks = [
        f"{r.folder.name}: {x}" for r in releases for x in check_derived_figures(r, method)
    ]
    cells = sorted({key for r in releases for key in r.maturity if key[0] != WALES})
    for gss, item in cells:
        if (gss, len(releases) - 1) not in versions:
            versions.update({(gss, k): 0 for k in range(len(releases))})
        _attack_maturity_cell(
            releases, versions, gss, item, method, report, truths, correction_size, use_low_base, fingerprint
        )
    for item in sorted({it for r in releases for (gss, it) in r.maturity if gss == WALES}):
        _attack_maturity_wales(
            releases, versions, item, method, report, truths, correction_size, use_low_base
        )
    for item in sorted({it for r in releases for (_, it) in r.statements}):
        _attack_statement(releases, versions, item, method, report, truths, correction_size, use_low_base)
    report.seconds = time.process_time() - started
    return report


def run_truth(out_dir: Path | str, wave: str = "2018") -> Truth:
    """The true counts of the run in OUT (its current warehouse)."""
    return read_truth(Path(out_dir) / "warehouse", wave)


# ----------------------------------------------------------------------------------------- test helpers


def small_group_council(release_dir: Path | str) -> tuple[str, str, str, str]:
    """A council whose elected members are withheld for a characteristic and a statement.

    Returns (gss_code, council_name_en, characteristic, statement_id), for a one-member correction.
    """
    release = load_release(release_dir)
    rates = _read_csv(Path(release_dir) / "response_rates.csv")
    names = dict(zip(rates["gss_code"], rates["council_name_en"], strict=False)) if rates is not None else {}
    for (gss, item), rows in sorted(release.maturity.items()):
        row = rows.get("elected_members")
        if gss == WALES or row is None or not is_withheld(row, FIGURE_MATURITY):
            continue
        statements = [
            it
            for (g, it), srows in sorted(release.statements.items())
            if g == gss and is_withheld(srows.get("elected_members", {}), FIGURE_STATEMENT)
        ]
        if statements:
            return gss, names.get(gss, gss), item, statements[0]
    raise LookupError(
        "no council has withheld elected members' rows for both a characteristic and a statement"
    )


def correct_one_elected_member(
    study_dir: Path | str, council_name: str, characteristic: str, statement: str
) -> None:
    """Change one elected member's answer to a characteristic (level 1 <-> 2) and a statement (agree/not)."""
    path = Path(study_dir) / "responses" / "elected_members.csv"
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    level_column, statement_column = f"lvl_{characteristic}", f"st_{statement}"
    rows = table.index[
        (table["council"] == council_name)
        & table[level_column].isin(["1", "2", "3"])
        & table[statement_column].isin(["1", "2", "3", "4", "5"])
    ]
    if len(rows) == 0:
        raise LookupError(f"no elected member of {council_name} answered {characteristic} and {statement}")
    i = rows[0]
    table.loc[i, level_column] = "2" if table.loc[i, level_column] != "2" else "1"
    table.loc[i, statement_column] = "1" if table.loc[i, statement_column] in ("4", "5") else "4"
    table.to_csv(path, index=False)
