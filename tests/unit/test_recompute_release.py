"""Every figure of the demo release, recomputed from the raw study CSVs, agrees to the printed digit.

Acceptance check, written apart from the pipeline: nothing here is imported from maturity/, tasks/, flows/
or warehouse/. The raw files are read as docs/inputs.md describes them, the definitions are those of
docs/methodology.md, docs/disclosure.md, docs/tables.md and config/*.yaml (read with yaml.safe_load), and
every statistic is computed again with pandas, numpy and scipy. The only pipeline call is the one that
writes the release under test (tests/release_under_test.py).

Not recomputed: which rows the integer disclosure audit withholds (an integer program; tests/attack/
attacks it separately). The release's status column is taken as given, and checked here only against
the primary and complete-group rules; every withheld row must have every figure empty.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from tests.release_under_test import build_open_data_release

ROOT = Path(__file__).resolve().parents[2]


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text(encoding="utf-8"))


METHOD = _config("method.yaml")
TOOLS = _config("tools.yaml")
FRAMEWORK = _config("framework.yaml")
MATURITY = METHOD["maturity"]
PUBLICATION = METHOD["publication"]
WALES = "W92000004"
ALL = "all"
TOTAL = "total"
# The order the groups are listed in is the order their posterior draws are taken (officers first).
GROUPS = [group["id"] for group in TOOLS["recipient_groups"]]
GROUP_OF_TOOL = {tool["id"]: tool["recipient_group"] for tool in TOOLS["tools"]}
STATEMENTS_OF_TOOL = {tool["id"]: set(tool["statements"]) for tool in TOOLS["tools"]}
CHARACTERISTICS = [c["id"] for c in FRAMEWORK["characteristics"]]
THEME_OF_STATEMENT = {s["id"]: s["theme"] for s in FRAMEWORK["statements"]}
LEVELS = np.array([1.0, 2.0, 3.0])
CUT_OFFS = (Fraction(str(MATURITY["level_2_from"])), Fraction(str(MATURITY["level_3_from"])))
DONT_KNOW = METHOD["responses"]["dont_know"]
AGREE = set(METHOD["statements"]["agree_answers"])
MIN_VALID = METHOD["disclosure"]["min_valid_answers"]
WITHHELD = METHOD["disclosure"]["withheld_status"]
FDR = METHOD["comparisons"]["false_discovery_rate"]
PERCENT = PUBLICATION["percent_decimals"]
LEVEL_PLACES = PUBLICATION["level_decimals"]
PROBABILITY = PUBLICATION["probability_decimals"]
P_VALUE = PUBLICATION["p_value_decimals"]
BASE = PUBLICATION["base_decimals"]

# Demo study: every row of every file is read and loaded, none set aside (the run's accounting).
DEMO_ROWS_READ = 2996
# Columns of each answer table that carry a figure (empty when the row is withheld).
MATURITY_FIGURES = [
    "n_valid",
    "share_level_1_pct",
    "share_level_2_pct",
    "share_level_3_pct",
    "mean_level",
    "level",
    "ci_lower",
    "ci_upper",
    "p_level_1",
    "p_level_2",
    "p_level_3",
    "likely_level_low",
    "likely_level_high",
    "consensus",
    "n_effective",
    "low_base",
    "p_value_vs_rest_of_wales",
    "differs_from_rest_of_wales",
]
STATEMENT_FIGURES = [
    "n_valid",
    "pct_agree",
    "ci_lower",
    "ci_upper",
    "low_base",
    "p_value_vs_rest_of_wales",
    "differs_from_rest_of_wales",
]
TABLES = [
    "response_rates",
    "maturity_levels",
    "statement_results",
    "perception_gaps",
    "public_survey_results",
]


# ------------------------------------------------------------------ rounding and comparing


def half_away(value: float | Fraction, places: int) -> float | Fraction:
    """Half away from zero at places (config/method.yaml publication).

    A ratio of counts is rounded exactly (Fraction), so a true tie goes up whatever floating point makes
    of it; a float (an interval, a p-value) is rounded with a 1e-9 allowance for a tie computed a hair low.
    """
    if isinstance(value, Fraction):
        scaled = abs(value) * 10**places
        rounded = Fraction(math.floor(scaled + Fraction(1, 2)), 10**places)
        return rounded if value >= 0 else -rounded
    scale = 10.0**places
    return math.copysign(math.floor(abs(value) * scale + 0.5 + 1e-9) / scale, value)


def mean_places(mean: Fraction) -> int:
    """Places a mean level is printed with: two, or more where two would round it up onto a cut-off."""
    places = LEVEL_PLACES
    while places < LEVEL_PLACES + 6 and any(mean < cut <= half_away(mean, places) for cut in CUT_OFFS):
        places += 1
    return places


def printed_places(text: str) -> int:
    return max(0, -int(Decimal(text).as_tuple().exponent))


def finite(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def ratio(numerator: int, denominator: int) -> Fraction | None:
    return Fraction(int(numerator), int(denominator)) if denominator else None


@dataclass
class Tally:
    """Figures compared per table and column, and every disagreement found, with its cell."""

    compared: Counter = field(default_factory=Counter)
    empty: Counter = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def _miss(self, table: str, key: tuple, column: str, printed: str, expected: object) -> None:
        self.mismatches.append(f"{table} {key} {column}: published {printed!r}, recomputed {expected!r}")

    def blank(self, table: str, key: tuple, column: str, printed: str) -> None:
        """A figure that must not be published (withheld, or not defined)."""
        self.empty[(table, column)] += 1
        if printed != "":
            self._miss(table, key, column, printed, "")

    def number(
        self, table: str, key: tuple, column: str, printed: str, value: float | Fraction | None, places: int
    ) -> None:
        """A figure as printed against ours rounded the same way (exactly, for a ratio of counts)."""
        if not finite(value):
            self.blank(table, key, column, printed)
            return
        self.compared[(table, column)] += 1
        expected = half_away(value, places)
        if printed == "" or printed_places(printed) > places:
            agrees = False
        elif isinstance(expected, Fraction):
            agrees = Fraction(Decimal(printed)) == expected
        else:
            agrees = abs(float(printed) - expected) <= 1e-9
        if not agrees:
            shown = float(expected) if isinstance(expected, Fraction) else expected
            unrounded = float(value) if isinstance(value, Fraction) else value
            self._miss(table, key, column, printed, f"{shown} (unrounded {unrounded!r}, {places} places)")

    def integer(self, table: str, key: tuple, column: str, printed: str, value: int | None) -> None:
        if value is None:
            self.blank(table, key, column, printed)
            return
        self.compared[(table, column)] += 1
        if not re.fullmatch(r"-?\d+", printed) or int(printed) != int(value):
            self._miss(table, key, column, printed, int(value))

    def boolean(self, table: str, key: tuple, column: str, printed: str, value: bool | None) -> None:
        if value is None:
            self.blank(table, key, column, printed)
            return
        self.compared[(table, column)] += 1
        if printed != str(bool(value)):
            self._miss(table, key, column, printed, bool(value))

    def report(self, table: str) -> str:
        lines = [f"{table}: figures compared per column (and cells checked empty)"]
        columns = sorted({c for t, c in self.compared | self.empty if t == table})
        for column in columns:
            compared, empty = self.compared[(table, column)], self.empty[(table, column)]
            lines.append(f"  {column}: {compared} compared, {empty} empty")
        total = sum(n for (t, _), n in self.compared.items() if t == table)
        lines.append(f"  total: {total} figures")
        return "\n".join(lines)

    def assert_agrees(self, table: str) -> None:
        print("\n" + self.report(table))
        shown = "\n".join(self.mismatches[:40])
        assert not self.mismatches, f"{len(self.mismatches)} published figures disagree:\n{shown}"


# ------------------------------------------------------------------ the raw study (docs/inputs.md)


def plain_name(name: str) -> str:
    """A council spelling compared without case, accents or punctuation."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", "", letters.casefold())


def council_lookup() -> dict[str, str]:
    councils = pd.read_csv(ROOT / "config" / "councils.csv", dtype=str, keep_default_na=False)
    lookup = {}
    for row in councils.itertuples(index=False):
        spellings = [row.gss_code, row.name_en, row.name_cy, row.official_name_en, row.official_name_cy]
        spellings += [alias for alias in row.aliases.split("|") if alias]
        for spelling in spellings:
            lookup[plain_name(spelling)] = row.gss_code
    return lookup


def read_raw_csv(path: Path) -> pd.DataFrame:
    """All cells as trimmed text; identity columns (email, IP, browser, any *name*) dropped at once."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [str(c).strip() for c in frame.columns]
    responses = METHOD["responses"]
    identity = [
        c
        for c in frame.columns
        if c in responses["identity_columns"]
        or any(p in c.lower() for p in responses["identity_column_patterns"])
    ]
    frame = frame.drop(columns=identity).apply(lambda column: column.str.strip())
    return frame[(frame != "").any(axis=1)]


@dataclass
class RawStudy:
    wave: str
    rows_read: int
    invitations: pd.DataFrame  # gss_code, recipient_group, tool_id, invited
    respondents: pd.DataFrame  # response_id, tool_id, gss_code, recipient_group
    answers: pd.DataFrame  # gss_code, recipient_group, item_type, item_id, answer (given answers only)
    survey: pd.DataFrame  # respondent_id, gss_code, age_band, sex, one column per question
    population: pd.DataFrame  # gss_code, age_band, sex, population
    set_aside: list[str]  # rows the input contract would quarantine (none in the demo)


def read_raw_study(folder: Path) -> RawStudy:
    meta = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    wave = str(meta["wave"])
    start = datetime.fromisoformat(str(meta["fieldwork_start"]))
    end = datetime.fromisoformat(str(meta["fieldwork_end"])) + timedelta(days=1)
    lookup = council_lookup()
    problems: list[str] = []
    rows_read = 0

    def gss(frame: pd.DataFrame, name: str) -> pd.Series:
        codes = frame["council"].map(lambda c: lookup.get(plain_name(c)))
        problems.extend(f"{name}: unknown council {c!r}" for c in frame.loc[codes.isna(), "council"])
        return codes

    invitations = read_raw_csv(folder / "invitations.csv")
    rows_read += len(invitations)
    invitations = invitations.assign(gss_code=gss(invitations, "invitations"))
    bad_invited = ~invitations["invited"].str.fullmatch(r"[1-9]\d*")
    problems.extend(f"invitations: invited {v!r}" for v in invitations.loc[bad_invited, "invited"])
    wrong_group = invitations["tool_id"].map(GROUP_OF_TOOL) != invitations["recipient_group"]
    problems.extend(f"invitations: tool and group {r}" for r in invitations[wrong_group].to_dict("records"))
    invitations = invitations.assign(invited=pd.to_numeric(invitations["invited"], errors="coerce"))
    if invitations.duplicated(["gss_code", "tool_id"]).any():
        problems.append("invitations: a council x tool twice")

    respondents, answers = [], []
    for tool in GROUP_OF_TOOL:
        frame = read_raw_csv(folder / "responses" / f"{tool}.csv")
        rows_read += len(frame)
        frame = frame.assign(gss_code=gss(frame, tool), tool_id=tool, recipient_group=GROUP_OF_TOOL[tool])
        submitted = pd.to_datetime(frame["submitted_at"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
        outside = submitted.isna() | (submitted < start) | (submitted >= end)
        problems.extend(f"{tool}: submitted_at {v!r}" for v in frame.loc[outside, "submitted_at"])
        max_comment = METHOD["responses"]["max_comment_chars"]
        problems.extend(f"{tool}: long comment" for c in frame["comments"] if len(c) > max_comment)
        respondents.append(frame[["response_id", "tool_id", "gss_code", "recipient_group"]])
        for column in frame.columns:
            kind, _, item = column.partition("_")
            if kind == "lvl":
                item_type, allowed = "level", METHOD["responses"]["level_answers"]
                if item not in CHARACTERISTICS:
                    problems.append(f"{tool}: {column} is not a characteristic")
            elif kind == "st":
                item_type, allowed = "statement", METHOD["responses"]["statement_answers"]
                if item not in STATEMENTS_OF_TOOL[tool]:
                    problems.append(f"{tool}: {column} is not one of the tool's statements")
            else:
                continue
            given = frame[frame[column] != ""]
            problems.extend(f"{tool}: {column} {v!r}" for v in given[column] if v not in allowed)
            answers.append(
                pd.DataFrame(
                    {
                        "gss_code": given["gss_code"],
                        "recipient_group": given["recipient_group"],
                        "item_type": item_type,
                        "item_id": item,
                        "answer": given[column],
                    }
                )
            )
    respondents = pd.concat(respondents, ignore_index=True)
    if respondents["response_id"].duplicated().any():
        problems.append("responses: a response id twice")
    received = respondents.groupby(["gss_code", "tool_id"]).size()
    invited = invitations.set_index(["gss_code", "tool_id"])["invited"]
    for key, count in received.items():
        if key not in invited.index or count > invited[key]:
            problems.append(f"responses: {key} has {count} responses, invited {invited.get(key)}")

    survey = read_raw_csv(folder / "public_survey.csv")
    rows_read += len(survey)
    survey = survey.assign(gss_code=gss(survey, "public_survey"))
    population = read_raw_csv(folder / "population.csv")
    rows_read += len(population)
    population = population.assign(
        gss_code=gss(population, "population"), population=population["population"].astype("int64")
    )
    survey_method = METHOD["public_survey"]
    for column, allowed in (("age_band", survey_method["age_bands"]), ("sex", survey_method["sexes"])):
        for frame, name in ((survey, "public_survey"), (population, "population")):
            problems.extend(f"{name}: {column} {v!r}" for v in frame[column] if v not in allowed)
    for question in survey_method["questions"]:
        values = survey[question["id"]]
        problems.extend(f"public_survey: {v!r}" for v in values if v and v not in survey_method["answers"])
    if survey["respondent_id"].duplicated().any():
        problems.append("public_survey: a respondent id twice")
    if population.duplicated(["gss_code", "age_band", "sex"]).any():
        problems.append("population: a cell twice")
    return RawStudy(
        wave,
        rows_read,
        invitations,
        respondents,
        pd.concat(answers, ignore_index=True),
        survey,
        population,
        problems,
    )


# ------------------------------------------------------------------ statistics, written afresh


@cache
def z_value(confidence: float) -> float:
    return float(stats.norm.ppf(1 - (1 - confidence) / 2))


def wilson(agree: float, size: float, confidence: float) -> tuple[float, float]:
    """Wilson score interval (docs/methodology.md section 4), kept around the estimate at 0% and 100%."""
    p = agree / size
    z = z_value(confidence)
    denominator = 1 + z * z / size
    centre = (p + z * z / (2 * size)) / denominator
    half = z * math.sqrt(p * (1 - p) / size + z * z / (4 * size * size)) / denominator
    return min(max(min(centre - half, p), 0.0), 1.0), min(max(max(centre + half, p), 0.0), 1.0)


def newcombe(agree_a: int, n_a: int, agree_b: int, n_b: int, confidence: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for the difference of two independent shares."""
    share_a, share_b = agree_a / n_a, agree_b / n_b
    lower_a, upper_a = wilson(agree_a, n_a, confidence)
    lower_b, upper_b = wilson(agree_b, n_b, confidence)
    below = math.sqrt((share_a - lower_a) ** 2 + (upper_b - share_b) ** 2)
    above = math.sqrt((upper_a - share_a) ** 2 + (share_b - lower_b) ** 2)
    return share_a - share_b - below, share_a - share_b + above


def tastle_wierman(shares: np.ndarray) -> float:
    mean = float(shares @ LEVELS)
    width = LEVELS[-1] - LEVELS[0]
    used = shares > 0
    return float(1 + np.sum(shares[used] * np.log2(1 - np.abs(LEVELS[used] - mean) / width)))


def level_of(mean: Fraction) -> int:
    if mean < CUT_OFFS[0]:
        return 1
    return 2 if mean < CUT_OFFS[1] else 3


def likely_range(level: int, probabilities: np.ndarray) -> tuple[int, int]:
    """The level alone if it reaches level_probability_shown; else it and its likelier neighbour; else 1-3."""
    shown = MATURITY["level_probability_shown"]
    if probabilities[level - 1] >= shown:
        return level, level
    neighbours = [n for n in (level - 1, level + 1) if 1 <= n <= 3]
    neighbour = max(neighbours, key=lambda n: probabilities[n - 1])
    if probabilities[level - 1] + probabilities[neighbour - 1] >= shown:
        return min(level, neighbour), max(level, neighbour)
    return 1, 3


@dataclass
class TailDraws:
    lower: np.ndarray  # mean level drawn with the lower-tail prior (half an answer more at level 1)
    upper: np.ndarray  # with the upper-tail prior


def cell_generator(wave: str, gss_code: str, item: str) -> np.random.Generator:
    keys = [zlib.crc32(text.encode()) for text in (wave, gss_code, item)]
    return np.random.default_rng([MATURITY["posterior_seed"], *keys])


def tail_draws(levels: np.ndarray, rng: np.random.Generator) -> TailDraws:
    """Dirichlet(counts + prior) draws of the mean level as normalised gamma rows: lower tail, then upper."""
    means = []
    for prior in (MATURITY["lower_tail_prior"], MATURITY["upper_tail_prior"]):
        gamma = rng.gamma(levels + np.asarray(prior, dtype=float), size=(MATURITY["posterior_draws"], 3))
        means.append(gamma @ LEVELS / gamma.sum(axis=1))
    return TailDraws(*means)


@dataclass
class MaturityRow:
    levels: np.ndarray  # answers at levels 1, 2, 3 (summed over the groups for all)
    n_valid: int
    n_answered: int
    shares: list[Fraction] | None  # exact shares of levels 1, 2, 3 (mean of the groups' for all)
    mean: Fraction | None  # exact mean level
    n_effective: Fraction
    draws: TailDraws | None

    @property
    def published_figures(self) -> dict:
        alpha = (1 - MATURITY["confidence_level"]) / 2
        pooled = np.concatenate([self.draws.lower, self.draws.upper])
        cut_2, cut_3 = (float(cut) for cut in CUT_OFFS)
        below_2, below_3 = (pooled < cut_2).mean(), (pooled < cut_3).mean()
        probabilities = np.array([below_2, below_3 - below_2, 1 - below_3])
        level = level_of(self.mean)
        shares = np.array([float(s) for s in self.shares])
        return {
            "level": level,
            "ci_lower": float(np.quantile(self.draws.lower, alpha)),
            "ci_upper": float(np.quantile(self.draws.upper, 1 - alpha)),
            "probabilities": probabilities,
            "likely": likely_range(level, probabilities),
            "consensus": tastle_wierman(shares),
        }


def exact_mean(shares: list[Fraction] | None) -> Fraction | None:
    return sum(level * share for level, share in zip((1, 2, 3), shares, strict=True)) if shares else None


def maturity_cell(
    wave: str, gss_code: str, item: str, counts: dict[str, np.ndarray]
) -> dict[str, MaturityRow]:
    """A council (or Wales) x characteristic: each group's row, then all (groups weighted equally)."""
    streams = cell_generator(wave, gss_code, item).spawn(len(GROUPS))  # one child generator per group
    rows = {}
    for group, stream in zip(GROUPS, streams, strict=True):
        answered = counts.get(group, np.zeros(4, dtype="int64"))
        levels = answered[:3].astype(float)
        n_valid = int(answered[:3].sum())
        draws = tail_draws(levels, stream) if n_valid else None
        shares = [Fraction(int(k), n_valid) for k in answered[:3]] if n_valid else None
        mean = exact_mean(shares)
        rows[group] = MaturityRow(
            answered[:3], n_valid, int(answered.sum()), shares, mean, Fraction(n_valid), draws
        )
    valid = [rows[g] for g in GROUPS if rows[g].n_valid]
    if valid:
        shares = [sum(r.shares[j] for r in valid) / len(valid) for j in range(3)]
        draws = TailDraws(
            np.mean([r.draws.lower for r in valid], axis=0), np.mean([r.draws.upper for r in valid], axis=0)
        )
        base = Fraction(len(valid) ** 2) / sum(Fraction(1, r.n_valid) for r in valid)
    else:
        shares, draws, base = None, None, Fraction(0)
    mean = exact_mean(shares)
    levels = sum(rows[g].levels for g in GROUPS)
    answered = sum(rows[g].n_answered for g in GROUPS)
    rows[ALL] = MaturityRow(levels, int(levels.sum()), answered, shares, mean, base, draws)
    return rows


def level_counts(answers: pd.DataFrame) -> dict[tuple[str, str, str], np.ndarray]:
    """Answers at levels 1, 2, 3 and don't know per council x characteristic x group."""
    levels = answers[answers["item_type"] == "level"]
    category = levels["answer"].map({"1": 0, "2": 1, "3": 2, DONT_KNOW: 3})
    counted = levels.assign(category=category).groupby(["gss_code", "item_id", "recipient_group", "category"])
    result: dict[tuple[str, str, str], np.ndarray] = {}
    for (gss_code, item, group, cat), n in counted.size().items():
        result.setdefault((gss_code, item, group), np.zeros(4, dtype="int64"))[int(cat)] = n
    return result


def statement_counts(answers: pd.DataFrame) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """(answered, valid, agreeing) per council x statement x group, for all pooled, and for Wales."""
    given = answers[answers["item_type"] == "statement"]
    frame = given.assign(
        valid=(given["answer"] != DONT_KNOW).astype(int), agree=given["answer"].isin(AGREE).astype(int)
    )
    per_group = frame.groupby(["gss_code", "item_id", "recipient_group"]).agg(
        answered=("answer", "size"), valid=("valid", "sum"), agree=("agree", "sum")
    )
    result: dict[tuple[str, str, str], tuple[int, int, int]] = {}
    for (gss_code, item, group), row in per_group.iterrows():
        counts = (int(row["answered"]), int(row["valid"]), int(row["agree"]))
        for area in (gss_code, WALES):
            for who in (group, ALL):
                before = result.get((area, item, who), (0, 0, 0))
                result[(area, item, who)] = tuple(a + b for a, b in zip(before, counts, strict=True))
    return result


def level_moments(levels: np.ndarray) -> tuple[float, float, int]:
    n = int(levels.sum())
    mean = float(levels @ LEVELS / n)
    variance = float(levels @ (LEVELS - mean) ** 2 / (n - 1)) if n > 1 else math.nan
    return mean, variance, n


def welch_p(council: list[np.ndarray], rest: list[np.ndarray]) -> float:
    """Welch-Satterthwaite test of (equal-weight mean of council groups) - (same for the rest of Wales)."""
    terms = []
    for side, sign in ((council, 1.0), (rest, -1.0)):
        moments = [level_moments(levels) for levels in side if levels.sum() > 0]
        if not moments:
            return math.nan
        terms += [(mean, variance, n, sign / len(moments)) for mean, variance, n in moments]
    if any(n < 2 for _, _, n, _ in terms):
        return math.nan
    parts = [w * w * variance / n for _, variance, n, w in terms]
    difference = sum(w * mean for mean, _, _, w in terms)
    variance = sum(parts)
    if variance <= 0:
        return 1.0 if difference == 0 else 0.0
    freedom = variance**2 / sum(p * p / (n - 1) for p, (_, _, n, _) in zip(parts, terms, strict=True))
    return float(2 * stats.t.sf(abs(difference) / math.sqrt(variance), freedom))


def benjamini_hochberg(p_values: list[float]) -> list[bool]:
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    flags = np.zeros(m, dtype=bool)
    flags[order] = adjusted <= FDR
    return flags.tolist()


def rake(respondents: pd.DataFrame, population: pd.DataFrame) -> np.ndarray:
    """Iterative proportional fitting from equal weights to every population margin (to 1e-12)."""
    margins = METHOD["public_survey"]["weighting"]["margins"]
    weights = np.ones(len(respondents))
    targets = {m: population.groupby(m)["population"].sum().astype(float) for m in margins}
    for _ in range(10_000):
        for margin in margins:
            current = pd.Series(weights).groupby(respondents[margin].to_numpy()).sum()
            factor = (targets[margin] / current).reindex(respondents[margin]).to_numpy()
            weights = weights * factor
        worst = max(
            float(
                (
                    (pd.Series(weights).groupby(respondents[m].to_numpy()).sum() - targets[m]).abs()
                    / targets[m]
                ).max()
            )
            for m in margins
        )
        if worst < 1e-12:
            return weights
    raise AssertionError("raking did not converge")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def raw(demo_study: Path) -> RawStudy:
    return read_raw_study(demo_study)


@pytest.fixture(scope="module")
def release(scored_demo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    folder = build_open_data_release(scored_demo.scores, tmp_path_factory.mktemp("recompute-release"))
    assert folder.parts[-2:] == ("open-data", "2018")
    return {name: pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False) for name in TABLES}


@pytest.fixture(scope="module")
def maturity(raw: RawStudy) -> dict[tuple[str, str, str], MaturityRow]:
    """Every council's and Wales's maturity rows, keyed by gss_code, characteristic and group."""
    counts = level_counts(raw.answers)
    cells: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for (gss_code, item, group), answered in counts.items():
        cells.setdefault((gss_code, item), {})[group] = answered
        wales = cells.setdefault((WALES, item), {})
        wales[group] = wales.get(group, np.zeros(4, dtype="int64")) + answered
    rows = {}
    for (gss_code, item), groups in sorted(cells.items()):
        for group, row in maturity_cell(raw.wave, gss_code, item, groups).items():
            rows[(gss_code, item, group)] = row
    return rows


@pytest.fixture(scope="module")
def statements(raw: RawStudy) -> dict[tuple[str, str, str], tuple[int, int, int]]:
    return statement_counts(raw.answers)


def published(table: pd.DataFrame, item: str) -> dict[tuple[str, str, str], bool]:
    keys = zip(table["gss_code"], table[item], table["recipient_group"], strict=True)
    return {key: status == "" for key, status in zip(keys, table["status"], strict=True)}


@pytest.fixture(scope="module")
def comparisons(
    release: dict[str, pd.DataFrame], maturity: dict, statements: dict
) -> dict[tuple[str, str, str, str], tuple[float, bool]]:
    """(p-value, flag) of every published comparison with the rest of Wales, by measure and cell.

    Published: the council's row and the Wales row for the same item and group are both published.
    Benjamini-Hochberg within each council over its published comparisons in both tables.
    """
    shown_levels = published(release["maturity_levels"], "characteristic")
    shown_statements = published(release["statement_results"], "statement_id")
    p_values: dict[tuple[str, str, str, str], float] = {}
    for (gss_code, item, group), _ in maturity.items():
        if gss_code == WALES or not (
            shown_levels.get((gss_code, item, group)) and shown_levels.get((WALES, item, group))
        ):
            continue
        chosen = GROUPS if group == ALL else [group]
        mine = [maturity[(gss_code, item, g)].levels for g in chosen]
        rest = [maturity[(WALES, item, g)].levels - c for g, c in zip(chosen, mine, strict=True)]
        p_values[("mean_level", gss_code, item, group)] = welch_p(mine, rest)
    for (gss_code, item, group), (_, valid, agree) in statements.items():
        if gss_code == WALES or not (
            shown_statements.get((gss_code, item, group)) and shown_statements.get((WALES, item, group))
        ):
            continue
        _, wales_valid, wales_agree = statements[(WALES, item, group)]
        rest_valid, rest_agree = wales_valid - valid, wales_agree - agree
        if valid and rest_valid:
            table = [[agree, valid - agree], [rest_agree, rest_valid - rest_agree]]
            p_value = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
        else:
            p_value = math.nan
        p_values[("pct_agree", gss_code, item, group)] = p_value
    results = {}
    councils = sorted({key[1] for key in p_values})
    for council in councils:
        family = [k for k, p in p_values.items() if k[1] == council and finite(p)]
        flags = benjamini_hochberg([p_values[k] for k in family])
        results.update({k: (p_values[k], flag) for k, flag in zip(family, flags, strict=True)})
        results.update(
            {k: (math.nan, None) for k, p in p_values.items() if k[1] == council and not finite(p)}
        )
    return results


# ------------------------------------------------------------------ the tests


def test_the_raw_demo_inputs_are_read_whole_with_nothing_to_set_aside(raw: RawStudy) -> None:
    assert raw.rows_read == DEMO_ROWS_READ
    assert raw.set_aside == []
    assert raw.wave == "2018"


def test_response_rates_agree(raw: RawStudy, release: dict[str, pd.DataFrame]) -> None:
    invited = raw.invitations.groupby(["gss_code", "recipient_group"])["invited"].sum()
    answered = raw.respondents.groupby(["gss_code", "recipient_group"]).size()
    expected: dict[tuple[str, str], tuple[int, int]] = {}
    for key in invited.index.union(answered.index):
        counts = (int(invited.get(key, 0)), int(answered.get(key, 0)))
        gss_code, group = key
        for area, who in ((gss_code, group), (gss_code, TOTAL), (WALES, group), (WALES, TOTAL)):
            before = expected.get((area, who), (0, 0))
            expected[(area, who)] = (before[0] + counts[0], before[1] + counts[1])
    table = release["response_rates"]
    assert set(zip(table["gss_code"], table["recipient_group"], strict=True)) == set(expected)
    assert (table["wave"] == raw.wave).all()
    tally = Tally()
    for row in table.itertuples(index=False):
        key = (row.gss_code, row.recipient_group)
        people, responses = expected[key]
        tally.integer("response_rates", key, "invited", row.invited, people)
        tally.integer("response_rates", key, "responses", row.responses, responses)
        rate = 100 * ratio(responses, people) if people else None
        tally.number("response_rates", key, "response_rate_pct", row.response_rate_pct, rate, PERCENT)
    tally.assert_agrees("response_rates")


def check_withheld(tally: Tally, name: str, key: tuple, row: pd.Series, figures: list[str]) -> None:
    assert row["status"] == WITHHELD, (name, key, row["status"])
    for column in figures:
        tally.blank(name, key, column, row[column])


def test_maturity_levels_agree(
    raw: RawStudy, release: dict[str, pd.DataFrame], maturity: dict, comparisons: dict
) -> None:
    table = release["maturity_levels"]
    keys = list(zip(table["gss_code"], table["characteristic"], table["recipient_group"], strict=True))
    assert set(keys) == set(maturity), "the table's rows are not the councils' and Wales's cells"
    assert len(keys) == len(set(keys))
    shown = published(table, "characteristic")
    tally = Tally()
    for key, (_, row) in zip(keys, table.iterrows(), strict=True):
        gss_code, item, group = key
        mine = maturity[key]
        assert row["wave"] == raw.wave
        # Primary rule and complete groups: a group under the threshold is withheld, and so is all
        # whenever a group that answered at all is withheld.
        if group != ALL and mine.n_valid < MIN_VALID:
            assert row["status"] == WITHHELD, ("primary rule", key)
        if group == ALL and gss_code != WALES:
            parts = [g for g in GROUPS if maturity[(gss_code, item, g)].n_answered]
            if not all(shown[(gss_code, item, g)] for g in parts):
                assert row["status"] == WITHHELD, ("complete groups", key)
        if row["status"] != "":
            check_withheld(tally, "maturity_levels", key, row, MATURITY_FIGURES)
            continue
        figures = mine.published_figures
        name = "maturity_levels"
        tally.integer(name, key, "n_valid", row["n_valid"], mine.n_valid)
        for level in (1, 2, 3):
            column = f"share_level_{level}_pct"
            tally.number(name, key, column, row[column], 100 * mine.shares[level - 1], PERCENT)
        tally.number(name, key, "mean_level", row["mean_level"], mine.mean, mean_places(mine.mean))
        tally.integer(name, key, "level", row["level"], figures["level"])
        tally.number(name, key, "ci_lower", row["ci_lower"], figures["ci_lower"], LEVEL_PLACES)
        tally.number(name, key, "ci_upper", row["ci_upper"], figures["ci_upper"], LEVEL_PLACES)
        for level in (1, 2, 3):
            column = f"p_level_{level}"
            tally.number(name, key, column, row[column], figures["probabilities"][level - 1], PROBABILITY)
        tally.integer(name, key, "likely_level_low", row["likely_level_low"], figures["likely"][0])
        tally.integer(name, key, "likely_level_high", row["likely_level_high"], figures["likely"][1])
        tally.number(name, key, "consensus", row["consensus"], figures["consensus"], LEVEL_PLACES)
        tally.number(name, key, "n_effective", row["n_effective"], mine.n_effective, BASE)
        tally.boolean(name, key, "low_base", row["low_base"], mine.n_effective < MATURITY["low_base_below"])
        p_value, flag = comparisons.get(("mean_level", *key), (math.nan, None))
        tally.number(name, key, "p_value_vs_rest_of_wales", row["p_value_vs_rest_of_wales"], p_value, P_VALUE)
        tally.boolean(name, key, "differs_from_rest_of_wales", row["differs_from_rest_of_wales"], flag)
    tally.assert_agrees("maturity_levels")


def test_statement_results_agree(
    raw: RawStudy, release: dict[str, pd.DataFrame], statements: dict, comparisons: dict
) -> None:
    table = release["statement_results"]
    keys = list(zip(table["gss_code"], table["statement_id"], table["recipient_group"], strict=True))
    assert set(keys) == set(statements), "the table's rows are not the councils' and Wales's cells"
    assert len(keys) == len(set(keys))
    shown = published(table, "statement_id")
    confidence = METHOD["statements"]["confidence_level"]
    tally = Tally()
    name = "statement_results"
    for key, (_, row) in zip(keys, table.iterrows(), strict=True):
        gss_code, item, group = key
        _, valid, agree = statements[key]
        assert row["wave"] == raw.wave
        assert row["theme"] == THEME_OF_STATEMENT[item]
        if group != ALL and valid < MIN_VALID:
            assert row["status"] == WITHHELD, ("primary rule", key)
        if group == ALL and gss_code != WALES:
            parts = [g for g in GROUPS if statements.get((gss_code, item, g), (0, 0, 0))[0]]
            if not all(shown[(gss_code, item, g)] for g in parts):
                assert row["status"] == WITHHELD, ("complete groups", key)
        if row["status"] != "":
            check_withheld(tally, name, key, row, STATEMENT_FIGURES)
            continue
        tally.integer(name, key, "n_valid", row["n_valid"], valid)
        lower, upper = wilson(agree, valid, confidence) if valid else (math.nan, math.nan)
        tally.number(
            name, key, "pct_agree", row["pct_agree"], 100 * ratio(agree, valid) if valid else None, PERCENT
        )
        tally.number(name, key, "ci_lower", row["ci_lower"], 100 * lower, PERCENT)
        tally.number(name, key, "ci_upper", row["ci_upper"], 100 * upper, PERCENT)
        tally.boolean(name, key, "low_base", row["low_base"], valid < MATURITY["low_base_below"])
        p_value, flag = comparisons.get(("pct_agree", *key), (math.nan, None))
        tally.number(name, key, "p_value_vs_rest_of_wales", row["p_value_vs_rest_of_wales"], p_value, P_VALUE)
        tally.boolean(name, key, "differs_from_rest_of_wales", row["differs_from_rest_of_wales"], flag)
    tally.assert_agrees(name)


def test_perception_gaps_agree(
    raw: RawStudy, release: dict[str, pd.DataFrame], maturity: dict, statements: dict
) -> None:
    first, second = MATURITY["perception_gap_groups"]
    shown_levels = published(release["maturity_levels"], "characteristic")
    shown_statements = published(release["statement_results"], "statement_id")
    expected: dict[tuple[str, str, str], dict] = {}
    alpha = (1 - MATURITY["confidence_level"]) / 2
    for gss_code, item, group in maturity:
        if gss_code == WALES or group != first:
            continue
        if not (shown_levels.get((gss_code, item, first)) and shown_levels.get((gss_code, item, second))):
            continue
        a, b = maturity[(gss_code, item, first)], maturity[(gss_code, item, second)]
        expected[(gss_code, "mean_level", item)] = {
            "officers": (a.mean, mean_places(a.mean)),
            "elected_members": (b.mean, mean_places(b.mean)),
            "gap": (a.mean - b.mean, LEVEL_PLACES),
            "gap_ci_lower": (float(np.quantile(a.draws.lower - b.draws.upper, alpha)), LEVEL_PLACES),
            "gap_ci_upper": (float(np.quantile(a.draws.upper - b.draws.lower, 1 - alpha)), LEVEL_PLACES),
        }
    confidence = METHOD["statements"]["confidence_level"]
    for gss_code, item, group in statements:
        if gss_code == WALES or group != first:
            continue
        if not (
            shown_statements.get((gss_code, item, first)) and shown_statements.get((gss_code, item, second))
        ):
            continue
        _, n_a, agree_a = statements[(gss_code, item, first)]
        _, n_b, agree_b = statements[(gss_code, item, second)]
        lower, upper = newcombe(agree_a, n_a, agree_b, n_b, confidence)
        expected[(gss_code, "pct_agree", item)] = {
            "officers": (100 * ratio(agree_a, n_a), PERCENT),
            "elected_members": (100 * ratio(agree_b, n_b), PERCENT),
            "gap": (100 * (ratio(agree_a, n_a) - ratio(agree_b, n_b)), PERCENT),
            "gap_ci_lower": (100 * lower, PERCENT),
            "gap_ci_upper": (100 * upper, PERCENT),
        }
    table = release["perception_gaps"]
    keys = list(zip(table["gss_code"], table["measure"], table["item_id"], strict=True))
    assert set(keys) == set(expected), "rows are not exactly those whose two groups are both published"
    tally = Tally()
    name = "perception_gaps"
    for key, (_, row) in zip(keys, table.iterrows(), strict=True):
        assert row["wave"] == raw.wave
        figures = expected[key]
        for column, (value, places) in figures.items():
            tally.number(name, key, column, row[column], value, places)
        lower, upper = figures["gap_ci_lower"][0], figures["gap_ci_upper"][0]
        tally.boolean(name, key, "gap_is_clear", row["gap_is_clear"], lower > 0 or upper < 0)
    tally.assert_agrees(name)


def test_public_survey_results_agree(raw: RawStudy, release: dict[str, pd.DataFrame]) -> None:
    """Raked to the population margins; weighted % yes (don't know in the base); Wilson on Kish's n_eff."""
    survey = raw.survey.reset_index(drop=True)
    weights = rake(survey, raw.population)
    method = METHOD["public_survey"]
    table = release["public_survey_results"]
    questions = [q["id"] for q in method["questions"]]
    assert sorted(table["question_id"]) == sorted(questions)
    tally = Tally()
    name = "public_survey_results"
    for _, row in table.iterrows():
        question = row["question_id"]
        key = (row["area_code"], question)
        assert row["area_code"] == WALES
        assert row["wave"] == raw.wave
        assert row["status"] == ""
        answered = (survey[question] != "").to_numpy()
        w = weights[answered]
        said_yes = (survey.loc[answered, question] == method["yes_answer"]).to_numpy()
        share = w[said_yes].sum() / w.sum()
        effective = w.sum() ** 2 / np.square(w).sum()
        lower, upper = wilson(share * effective, effective, method["confidence_level"])
        tally.integer(name, key, "n_respondents", row["n_respondents"], int(answered.sum()))
        tally.number(name, key, "estimate_pct", row["estimate_pct"], 100 * share, PERCENT)
        tally.number(name, key, "ci_lower", row["ci_lower"], 100 * lower, PERCENT)
        tally.number(name, key, "ci_upper", row["ci_upper"], 100 * upper, PERCENT)
        tally.number(name, key, "n_effective", row["n_effective"], effective, BASE)
    tally.assert_agrees(name)
