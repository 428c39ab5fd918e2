"""Score: response rates, maturity levels, statements, public survey and comments (docs/methodology.md)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NONE

from maturity.comments import build_redactor, build_theme_rules, code_comments, select_quotes
from maturity.settings import (
    ALL_GROUPS,
    TOTAL_GROUP,
    WALES_GSS_CODE,
    MaturityMethod,
    load_comment_rules,
    load_settings,
)
from maturity.stats import (
    false_discovery_flags,
    fisher_p_value,
    kish_effective_size,
    level_probabilities,
    newcombe_difference_interval,
    posterior_mean_draws,
    tastle_wierman_consensus,
    welch_p_value,
    wilson_interval,
)
from maturity.weighting import WeightingError, population_margins, rake_weights, summarise_weights
from tasks.contracts import DatasetError
from warehouse.store import partition_files, read_arrow, read_table, write_table

LEVELS = (1, 2, 3)
# The answers columns scoring reads: counting needs neither response ids nor lineage.
ANSWER_COLUMNS = ["gss_code", "recipient_group", "item_type", "item_id", "answer"]
INVITATION_COLUMNS = ["gss_code", "recipient_group", "invited"]
RESPONDENT_COLUMNS = ["gss_code", "recipient_group"]
# Answer categories counted per respondent: the three levels, then don't know.
_CATEGORIES = 4


def count_respondents(respondents: pd.DataFrame) -> pd.Series:
    """Responses per council x recipient group, from respondent rows."""
    return respondents.groupby(["gss_code", "recipient_group"]).size()


def compute_response_rates(invitations: pd.DataFrame, answered: pd.Series) -> pd.DataFrame:
    """Invited, responses and rate per council x recipient group, plus each council's total.

    answered: responses per council x recipient group (count_respondents or count_stored_respondents).
    """
    invited = invitations.groupby(["gss_code", "recipient_group"])["invited"].sum()
    rates = pd.DataFrame({"invited": invited, "responses": answered}).fillna(0).astype("int64")
    rates = rates.reset_index()
    totals = rates.groupby("gss_code", as_index=False)[["invited", "responses"]].sum()
    totals["recipient_group"] = TOTAL_GROUP
    return _with_rate(pd.concat([rates, totals], ignore_index=True))


def summarise_wales_response_rates(council_rates: pd.DataFrame) -> pd.DataFrame:
    """Wales-wide invited, responses and rate per recipient group, summed from the councils' rows."""
    councils = council_rates[council_rates["gss_code"] != WALES_GSS_CODE]
    wales = councils.groupby("recipient_group", as_index=False)[["invited", "responses"]].sum()
    wales["gss_code"] = WALES_GSS_CODE
    return _with_rate(wales)


def _with_rate(rates: pd.DataFrame) -> pd.DataFrame:
    rates["response_rate"] = rates["responses"] / rates["invited"].where(rates["invited"] > 0)
    return rates.sort_values(["gss_code", "recipient_group"], ignore_index=True)


# Far finer than any two means of real counts can differ (1 / (2 n1 n2), about 1e-7 for thousands of
# answers) and far coarser than a float sum's error (about 1e-16).
MEAN_PLACES = 12


def assign_level(mean_level: float, method: MaturityMethod) -> int | None:
    """Level 1 below level_2_from, level 2 below level_3_from, else level 3."""
    if np.isnan(mean_level):
        return None
    if mean_level < method.level_2_from:
        return 1
    return 2 if mean_level < method.level_3_from else 3


# Answers counted per item type x council x item x recipient group x answer; skipped questions left out.
# DuckDB reads the Parquet partitions, filters and aggregates in one multi-threaded scan. Measured at demo
# scale 100 (2.4 million answers): rates and level counts 0.31 s with an Arrow read and group-by, 0.06 s
# this way (benchmarks/RESULTS.md).
COUNT_ANSWERS_SQL = """
SELECT gss_code, item_type, item_id, recipient_group, answer, count(*) AS n
FROM {source}
WHERE answer IS NOT NULL
GROUP BY ALL
ORDER BY ALL
"""
COUNTED_COLUMNS = ["gss_code", "item_type", "item_id", "recipient_group", "answer", "n"]


def count_answers(answers: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Answers in memory counted per item type x council x item x recipient group x answer."""
    table = (
        answers.select(ANSWER_COLUMNS)
        if isinstance(answers, pa.Table)
        else pa.Table.from_pandas(answers[ANSWER_COLUMNS], preserve_index=False)
    )
    with _duckdb().cursor() as database:
        database.register("answers", table)
        return _counted_frame(database.sql(COUNT_ANSWERS_SQL.format(source="answers")).to_arrow_table())


def count_stored_answers(warehouse: Path, wave: str, councils: list[str] | None = None) -> pd.DataFrame:
    """The warehouse's answers for a wave (all councils, or those named), counted as count_answers does."""
    counted = query_stored(warehouse, "answers", wave, councils, COUNT_ANSWERS_SQL)
    if counted is None:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n" else "str") for c in COUNTED_COLUMNS})
    return _counted_frame(counted)


def count_stored_respondents(warehouse: Path, wave: str, councils: list[str] | None = None) -> pd.Series:
    """Responses per council x recipient group, counted from the warehouse without reading the rows out."""
    sql = "SELECT gss_code, recipient_group, count(*) AS n FROM {source} GROUP BY ALL ORDER BY ALL"
    counted = query_stored(warehouse, "respondents", wave, councils, sql)
    if counted is None:
        return pd.Series(dtype="int64", index=pd.MultiIndex.from_arrays([[], []], names=RESPONDENT_COLUMNS))
    return counted.to_pandas().set_index(RESPONDENT_COLUMNS)["n"].astype("int64")


def query_stored(
    warehouse: Path, name: str, wave: str, councils: list[str] | None, sql: str
) -> pa.Table | None:
    """Run sql, which reads FROM {source}, over a table's partitions with DuckDB; None if it has none."""
    files = [str(path) for path in partition_files(warehouse, name, wave, councils)]
    if not files:
        return None
    source = "read_parquet($files, hive_partitioning = true, hive_types = {'gss_code': 'VARCHAR'})"
    with _duckdb().cursor() as database:
        return database.sql(sql.format(source=source), params={"files": files}).to_arrow_table()


@cache
def _duckdb() -> Any:
    """One in-memory DuckDB for the process; each query takes its own cursor, so threads may share it.

    Opening a database costs about 15 ms, a cursor microseconds.
    """
    import duckdb

    return duckdb.connect()


def _counted_frame(counted: pa.Table) -> pd.DataFrame:
    """Counted answers as pandas, with the same dtypes however they were counted."""
    return counted.to_pandas().astype({"n": "int64"})[COUNTED_COLUMNS]


def count_level_answers(counted: pd.DataFrame, dont_know: str) -> pd.DataFrame:
    """Counts of 1, 2, 3 and don't know per council x characteristic x recipient group."""
    levels = counted[counted["item_type"] == "level"]
    category = levels["answer"].map({"1": 0, "2": 1, "3": 2, dont_know: 3})
    levels = levels.assign(category=category).dropna(subset=["category"])
    keys = ["gss_code", "item_id", "recipient_group"]
    counts = (
        levels.astype({"category": "int64"})
        .pivot_table(index=keys, columns="category", values="n", aggfunc="sum", fill_value=0)
        .reindex(columns=range(_CATEGORIES), fill_value=0)
        .astype("int64")
    )
    counts.columns = ["n_level_1", "n_level_2", "n_level_3", "n_dont_know"]
    return counts.reset_index().rename(columns={"item_id": "characteristic"})


@dataclass(frozen=True)
class GroupSample:
    """One recipient group's answers to one characteristic in one council."""

    counts: np.ndarray  # shape (4,): levels 1-3 then don't know

    @property
    def n_valid(self) -> int:
        return int(self.counts[:3].sum())

    @property
    def mean(self) -> float:
        return float(np.dot(self.counts[:3], LEVELS) / self.n_valid) if self.n_valid else np.nan

    @property
    def shares(self) -> np.ndarray:
        return self.counts[:3] / self.n_valid if self.n_valid else np.full(3, np.nan)


@dataclass(frozen=True)
class TailDraws:
    """Posterior draws of a mean level: with the lower-tail prior (lower end) and the upper-tail one."""

    lower: np.ndarray
    upper: np.ndarray

    @property
    def pooled(self) -> np.ndarray:
        """Both halves: the posterior the level probabilities are read from (its prior is their average)."""
        return np.concatenate([self.lower, self.upper])


def cell_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by the cell's identity, so a council's intervals don't depend on the others."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def draw_group_means(sample: GroupSample, method: MaturityMethod, rng: np.random.Generator) -> TailDraws:
    """The group's mean level drawn from its two tail posteriors (docs/methodology.md), lower tail first."""
    levels = np.array(LEVELS, dtype=float)
    counts = sample.counts[:3]
    return TailDraws(
        posterior_mean_draws(counts, np.array(method.lower_tail_prior), rng, method.posterior_draws, levels),
        posterior_mean_draws(counts, np.array(method.upper_tail_prior), rng, method.posterior_draws, levels),
    )


def draw_cell_means(
    samples: dict[str, GroupSample], method: MaturityMethod, rng: np.random.Generator
) -> dict[str, TailDraws]:
    """Draws for each group with valid answers (in the order given), then for all: their equal-weight mean.

    Each group draws from a generator of its own, spawned from the cell's: how many random values a
    group's draws use depends on its counts, so with one shared generator a published group's interval
    would tell a reader, who has the seed and this code, something of a withheld group's counts.
    """
    streams = rng.spawn(len(samples))  # one per group, whether or not it answered: fixed by position
    draws = {
        group: draw_group_means(sample, method, stream)
        for (group, sample), stream in zip(samples.items(), streams, strict=True)
        if sample.n_valid > 0
    }
    if draws:
        draws[ALL_GROUPS] = TailDraws(
            np.mean([d.lower for d in draws.values()], axis=0),
            np.mean([d.upper for d in draws.values()], axis=0),
        )
    return draws


def summarise_cell(
    samples: dict[str, GroupSample], method: MaturityMethod, rng: np.random.Generator
) -> list[dict]:
    """Rows for each group and for all groups weighted equally, each with its interval and level odds."""
    return summarise_draws(samples, draw_cell_means(samples, method, rng), method)


def summarise_draws(
    samples: dict[str, GroupSample], draws: dict[str, TailDraws], method: MaturityMethod
) -> list[dict]:
    """The cell's rows from its counts and posterior draws."""
    contributing = [g for g, s in samples.items() if s.n_valid > 0]
    rows = [
        _row(group, sample.counts, sample.shares, float(sample.n_valid), draws.get(group), method)
        for group, sample in samples.items()
    ]
    counts = sum(s.counts for s in samples.values())
    if contributing:
        shares = np.mean([samples[g].shares for g in contributing], axis=0)
    else:
        shares = np.full(3, np.nan)
    base = effective_base([samples[g].n_valid for g in contributing])
    rows.append(_row(ALL_GROUPS, counts, shares, base, draws.get(ALL_GROUPS), method))
    return rows


def effective_base(bases: list[int]) -> float:
    """The base a mean of group means weighted equally is as precise as: 4 / (1/n1 + 1/n2) for two."""
    if not bases:
        return 0.0
    return len(bases) ** 2 / sum(1 / n for n in bases)


def likely_levels(level: int | None, probabilities: np.ndarray, shown_from: float) -> tuple[int, int] | None:
    """The levels to name: the mean's own if it reaches shown_from, else it and its likelier neighbour.

    "Between level 1 and 2" is (1, 2); if even two adjacent levels fall short, all three are named.
    """
    if level is None or not np.isfinite(probabilities).all():
        return None
    if probabilities[level - 1] >= shown_from:
        return level, level
    neighbours = [n for n in (level - 1, level + 1) if n in LEVELS]
    neighbour = max(neighbours, key=lambda n: probabilities[n - 1])
    if probabilities[level - 1] + probabilities[neighbour - 1] >= shown_from:
        return min(level, neighbour), max(level, neighbour)
    return LEVELS[0], LEVELS[-1]


def _row(
    group: str,
    counts: np.ndarray,
    shares: np.ndarray,
    base: float,
    draws: TailDraws | None,
    method: MaturityMethod,
) -> dict:
    alpha = (1 - method.confidence_level) / 2
    # Rounded to MEAN_PLACES: a mean that is exactly a cut-off or a rounding edge (51/34 = 1.5) comes out of
    # the float sum a hair below it (1.4999999999999998), which gave level 1 against "level 2 from 1.5".
    mean = round(float(np.dot(shares, LEVELS)), MEAN_PLACES) if np.isfinite(shares).all() else np.nan
    level = assign_level(mean, method)
    if draws is not None:
        lower, upper = float(np.quantile(draws.lower, alpha)), float(np.quantile(draws.upper, 1 - alpha))
        probabilities = level_probabilities(draws.pooled, (method.level_2_from, method.level_3_from))
    else:
        lower = upper = np.nan
        probabilities = np.full(3, np.nan)
    likely = likely_levels(level, probabilities, method.level_probability_shown)
    return {
        "recipient_group": group,
        "n_answered": int(counts.sum()),
        "n_valid": int(counts[:3].sum()),
        "n_dont_know": int(counts[3]),
        "n_level_1": int(counts[0]),
        "n_level_2": int(counts[1]),
        "n_level_3": int(counts[2]),
        "n_effective": float(base),
        "share_level_1": shares[0],
        "share_level_2": shares[1],
        "share_level_3": shares[2],
        "mean_level": mean,
        "level": level,
        "ci_lower": lower,
        "ci_upper": upper,
        "p_level_1": probabilities[0],
        "p_level_2": probabilities[1],
        "p_level_3": probabilities[2],
        "likely_level_low": likely[0] if likely else None,
        "likely_level_high": likely[1] if likely else None,
        "consensus": tastle_wierman_consensus(shares, np.array(LEVELS, dtype=float)),
        "low_base": bool(base < method.low_base_below),
    }


def _category_counts(row: tuple) -> np.ndarray:
    return np.array([row.n_level_1, row.n_level_2, row.n_level_3, row.n_dont_know], dtype="int64")


def cell_samples(counts: pd.DataFrame, groups: list[str]) -> dict[tuple[str, str], dict[str, GroupSample]]:
    """Each council x characteristic's group samples (a group with no answers: all zero), in key order."""
    empty = np.zeros(_CATEGORIES, dtype="int64")
    cells = {}
    for key, part in counts.groupby(["gss_code", "characteristic"], sort=True):
        found = {row.recipient_group: row for row in part.itertuples()}
        cells[key] = {
            group: GroupSample(_category_counts(found[group]) if group in found else empty)
            for group in groups
        }
    return cells


@dataclass(frozen=True)
class CellResults:
    """A council's maturity rows and its officer-member gaps, from one set of posterior draws."""

    levels: pd.DataFrame
    gaps: pd.DataFrame


def compute_maturity_levels(counted: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Maturity per council x characteristic for officers, elected members and all (equal weights)."""
    return compute_maturity(counted, wave).levels


def compute_maturity(counted: pd.DataFrame, wave: str) -> CellResults:
    """Maturity per council x characteristic and group, and officers - members gaps, from counted answers.

    counted: answers counted by count_answers or count_stored_answers.
    """
    settings = load_settings()
    return score_level_counts(count_level_answers(counted, settings.responses.dont_know), wave)


def score_level_counts(counts: pd.DataFrame, wave: str) -> CellResults:
    """Maturity rows and gaps from level counts per gss_code x characteristic x group."""
    settings = load_settings()
    method = settings.maturity
    rows, gaps = [], []
    for (gss_code, characteristic), samples in cell_samples(counts, list(settings.recipient_groups)).items():
        draws = draw_cell_means(
            samples, method, cell_rng(method.posterior_seed, wave, gss_code, characteristic)
        )
        for row in summarise_draws(samples, draws, method):
            rows.append({"gss_code": gss_code, "characteristic": characteristic, **row})
        gaps.append({"gss_code": gss_code, **mean_gap(characteristic, samples, draws, method)})
    return CellResults(_levels_frame(pd.DataFrame(rows)), pd.DataFrame(gaps))


def _levels_frame(table: pd.DataFrame) -> pd.DataFrame:
    for column in ("level", "likely_level_low", "likely_level_high"):
        table[column] = table[column].astype("Int8")
    return table


def mean_gap(
    characteristic: str, samples: dict[str, GroupSample], draws: dict[str, TailDraws], method: MaturityMethod
) -> dict:
    """Officers' mean level minus elected members', with an interval from their posterior draws.

    The lower end pairs officers' lower-tail draws with members' upper-tail ones (and the reverse for the
    upper end), so the interval keeps the tail posteriors' coverage (docs/methodology.md).
    """
    first, second = method.perception_gap_groups
    a, b = samples[first], samples[second]
    if first in draws and second in draws:
        lower, upper = tail_difference_interval(draws[first], draws[second], method.confidence_level)
    else:
        lower = upper = np.nan
    return _gap_row("mean_level", characteristic, a.mean, a.n_valid, b.mean, b.n_valid, lower, upper)


def tail_difference_interval(
    first: TailDraws, second: TailDraws, confidence_level: float
) -> tuple[float, float]:
    """An interval for first's mean minus second's (independent samples), keeping the tails' coverage.

    The lower end pairs first's lower-tail draws with second's upper-tail ones, the upper end the reverse.
    """
    alpha = (1 - confidence_level) / 2
    lower = float(np.quantile(first.lower - second.upper, alpha))
    upper = float(np.quantile(first.upper - second.lower, 1 - alpha))
    return lower, upper


def _gap_row(
    measure: str,
    item: str,
    first: float,
    n_first: int,
    second: float,
    n_second: int,
    lower: float,
    upper: float,
) -> dict:
    gap = first - second
    clear = bool(np.isfinite(lower) and np.isfinite(upper) and (lower > 0 or upper < 0))
    return {
        "measure": measure,
        "item_id": item,
        "officers": first,
        "elected_members": second,
        "n_officers": int(n_first),
        "n_elected_members": int(n_second),
        "gap": gap,
        "gap_ci_lower": lower,
        "gap_ci_upper": upper,
        "gap_is_clear": clear,
    }


def statement_gaps(statements: pd.DataFrame) -> pd.DataFrame:
    """Officers' % agree minus elected members' per council x statement, with Newcombe's interval."""
    settings = load_settings()
    confidence = settings.statement_method.confidence_level
    first, second = settings.maturity.perception_gap_groups
    groups = statements[statements["recipient_group"].isin([first, second])]
    wide = groups.pivot_table(
        index=["gss_code", "statement_id"],
        columns="recipient_group",
        values=["n_agree", "n_valid"],
        fill_value=0,
    )
    rows = []
    for (gss_code, statement), row in wide.iterrows():
        n_a, n_b = int(row[("n_valid", first)]), int(row[("n_valid", second)])
        share_a = row[("n_agree", first)] / n_a if n_a else np.nan
        share_b = row[("n_agree", second)] / n_b if n_b else np.nan
        if n_a and n_b:
            lower, upper = newcombe_difference_interval(share_a, n_a, share_b, n_b, confidence)
        else:
            lower = upper = np.nan
        rows.append(
            {
                "gss_code": gss_code,
                **_gap_row("pct_agree", statement, share_a, n_a, share_b, n_b, lower, upper),
            }
        )
    return pd.DataFrame(rows)


def national_level_distribution(maturity: pd.DataFrame) -> pd.DataFrame:
    """How many councils sit at each level, per characteristic (all respondents)."""
    combined = maturity[maturity["recipient_group"] == ALL_GROUPS]
    table = pd.crosstab(combined["characteristic"], combined["level"]).reindex(
        columns=list(LEVELS), fill_value=0
    )
    table.columns = [f"councils_level_{level}" for level in LEVELS]
    return table.reset_index()


def compute_theme_summary(maturity: pd.DataFrame) -> pd.DataFrame:
    """Per council x theme x group: characteristics at each level and their mean level, equally weighted.

    Descriptive only (no interval): a theme's characteristics are answered by the same respondents,
    so their bootstrap replicates are not independent and cannot simply be averaged.
    """
    settings = load_settings()
    theme_of = {c.id: c.theme for c in settings.characteristics}
    table = maturity.assign(theme=maturity["characteristic"].map(theme_of))
    keys = ["gss_code", "theme", "recipient_group"]
    summary = table.groupby(keys, sort=True).agg(
        characteristics=("characteristic", "size"),
        characteristics_scored=("mean_level", "count"),
        mean_level=("mean_level", "mean"),
        min_n_valid=("n_valid", "min"),
        low_base=("low_base", "any"),
    )
    for level in LEVELS:
        summary[f"characteristics_level_{level}"] = (
            (table["level"] == level).groupby([table[k] for k in keys]).sum().astype("int64")
        )
    summary["level"] = pd.array(
        [assign_level(m, settings.maturity) for m in summary["mean_level"]], dtype="Int8"
    )
    return summary.reset_index()


def count_statement_answers(counted: pd.DataFrame) -> pd.DataFrame:
    """Answered, don't know, valid and agreeing counts per council x statement x recipient group."""
    settings = load_settings()
    counted = counted[counted["item_type"] == "statement"].rename(
        columns={"item_id": "statement_id", "n": "n_answered"}
    )
    counted["n_dont_know"] = counted["n_answered"].where(counted["answer"] == settings.responses.dont_know, 0)
    counted["n_agree"] = counted["n_answered"].where(
        counted["answer"].isin(settings.statement_method.agree_answers), 0
    )
    keys = ["gss_code", "statement_id", "recipient_group"]
    counts = counted.groupby(keys, sort=True)[["n_answered", "n_dont_know", "n_agree"]].sum().astype("int64")
    counts["n_valid"] = counts["n_answered"] - counts["n_dont_know"]
    return counts.reset_index()


STATEMENT_COUNTS = ["n_answered", "n_dont_know", "n_valid", "n_agree"]


def add_pooled_rows(counts: pd.DataFrame) -> pd.DataFrame:
    """Counts for all groups pooled in each council, and for Wales by group and pooled."""
    pooled = counts.groupby(["gss_code", "statement_id"], as_index=False)[STATEMENT_COUNTS].sum()
    pooled["recipient_group"] = ALL_GROUPS
    councils = pd.concat([counts, pooled], ignore_index=True)
    wales = councils.groupby(["statement_id", "recipient_group"], as_index=False)[STATEMENT_COUNTS].sum()
    wales["gss_code"] = WALES_GSS_CODE
    return pd.concat([councils, wales], ignore_index=True)


def compute_statement_results_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Statement results from per-council, per-group counts: pooled rows, shares and Wilson intervals."""
    settings = load_settings()
    table = add_pooled_rows(counts)
    valid = table["n_valid"].where(table["n_valid"] > 0)
    table["share_agree"] = table["n_agree"] / valid
    lower, upper = wilson_interval(
        table["share_agree"].to_numpy(),
        table["n_valid"].to_numpy(),
        settings.statement_method.confidence_level,
    )
    table["ci_lower"], table["ci_upper"] = lower, upper
    table["theme"] = table["statement_id"].map({s.id: s.theme for s in settings.statements})
    return table.sort_values(["gss_code", "statement_id", "recipient_group"], ignore_index=True)


def wales_level_counts(council_levels: pd.DataFrame) -> pd.DataFrame:
    """Answers at each level per characteristic and group, summed over the councils: Wales's counts."""
    groups = council_levels[council_levels["recipient_group"] != ALL_GROUPS]
    counts = groups.groupby(["characteristic", "recipient_group"], as_index=False)[LEVEL_COUNTS].sum()
    return counts.assign(gss_code=WALES_GSS_CODE)


LEVEL_COUNTS = ["n_level_1", "n_level_2", "n_level_3", "n_dont_know"]


def compute_wales_levels(council_levels: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Wales's maturity rows (every council's answers pooled per group; all weights the groups equally)."""
    return score_level_counts(wales_level_counts(council_levels), wave).levels


def level_moments(counts: np.ndarray) -> tuple[float, float, int]:
    """Mean, sample variance (n - 1) and number of valid answers from counts at levels 1, 2, 3."""
    n = int(counts.sum())
    if n == 0:
        return np.nan, np.nan, 0
    levels = np.array(LEVELS, dtype=float)
    mean = float(counts @ levels / n)
    variance = float(counts @ (levels - mean) ** 2 / (n - 1)) if n > 1 else np.nan
    return mean, variance, n


def compare_mean_levels(
    council: dict[str, np.ndarray], rest: dict[str, np.ndarray]
) -> tuple[float, float, float]:
    """A council's (equally weighted) mean level against the rest of Wales's: estimates and Welch p-value.

    council, rest: level counts per group making the figure (one group, or every group for all).
    """
    terms = []
    estimates = []
    for side, sign in ((council, 1.0), (rest, -1.0)):
        moments = [level_moments(c) for c in side.values() if c.sum() > 0]
        weight = 1.0 / len(moments) if moments else np.nan
        estimates.append(sum(weight * m for m, _, _ in moments) if moments else np.nan)
        terms += [(m, v, n, sign * weight) for m, v, n in moments]
    sizes = np.array([n for _, _, n, _ in terms], dtype=float)
    if not np.isfinite(estimates).all() or (sizes < 2).any():
        return estimates[0], estimates[1], np.nan
    means, variances, weights = (np.array([t[i] for t in terms], dtype=float) for i in (0, 1, 3))
    return estimates[0], estimates[1], welch_p_value(means, variances, sizes, weights)


def compare_characteristics(levels: pd.DataFrame) -> pd.DataFrame:
    """Every council x characteristic x group (and all) against the rest of Wales (that council left out)."""
    groups = list(load_settings().recipient_groups)
    table = levels[levels["recipient_group"] != ALL_GROUPS]
    counts = {
        (row.gss_code, row.characteristic, row.recipient_group): np.array(
            [row.n_level_1, row.n_level_2, row.n_level_3], dtype="int64"
        )
        for row in table.itertuples()
    }
    zero = np.zeros(3, dtype="int64")
    rows = []
    for gss_code, characteristic in sorted({(g, c) for g, c, _ in counts if g != WALES_GSS_CODE}):
        mine = {g: counts.get((gss_code, characteristic, g), zero) for g in groups}
        rest = {g: counts.get((WALES_GSS_CODE, characteristic, g), zero) - mine[g] for g in groups}
        for group in [*groups, ALL_GROUPS]:
            chosen = groups if group == ALL_GROUPS else [group]
            estimate, other, p_value = compare_mean_levels(
                {g: mine[g] for g in chosen}, {g: rest[g] for g in chosen}
            )
            rows.append(_comparison("mean_level", gss_code, characteristic, group, estimate, other, p_value))
    return pd.DataFrame(rows)


def compare_statements(statements: pd.DataFrame) -> pd.DataFrame:
    """Every council x statement x group (and all, pooled) % agree against the rest of Wales's (Fisher)."""
    indexed = statements.set_index(["gss_code", "statement_id", "recipient_group"])
    wales = indexed.xs(WALES_GSS_CODE, level="gss_code")
    rows = []
    for (gss_code, statement, group), row in indexed.drop(index=WALES_GSS_CODE, level="gss_code").iterrows():
        total = wales.loc[(statement, group)]
        rest_valid, rest_agree = (
            int(total["n_valid"] - row["n_valid"]),
            int(total["n_agree"] - row["n_agree"]),
        )
        valid, agree = int(row["n_valid"]), int(row["n_agree"])
        p_value = fisher_p_value(agree, valid, rest_agree, rest_valid) if valid and rest_valid else np.nan
        estimate = agree / valid if valid else np.nan
        other = rest_agree / rest_valid if rest_valid else np.nan
        rows.append(_comparison("pct_agree", gss_code, statement, group, estimate, other, p_value))
    return pd.DataFrame(rows)


def _comparison(
    measure: str, gss_code: str, item: str, group: str, estimate: float, other: float, p_value: float
) -> dict:
    return {
        "council": gss_code,
        "measure": measure,
        "item_id": item,
        "recipient_group": group,
        "estimate": estimate,
        "rest_of_wales": other,
        "difference": estimate - other,
        "p_value": p_value,
    }


def flag_comparisons(comparisons: pd.DataFrame, tested: pd.Series) -> pd.Series:
    """Benjamini-Hochberg within each council's family of tested comparisons (both measures together).

    tested: which comparisons are in the family (the rest are never flagged and do not count).
    """
    rate = load_settings().comparisons.false_discovery_rate
    flags = pd.Series(False, index=comparisons.index)
    chosen = comparisons[tested.to_numpy() & comparisons["p_value"].notna().to_numpy()]
    for _, family in chosen.groupby("council"):
        flags.loc[family.index] = false_discovery_flags(family["p_value"].to_numpy(), rate)
    return flags


def compute_wales_comparisons(levels: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """Each council against the rest of Wales, flagged where the difference survives the FDR control.

    The warehouse's family is every comparison whose council figure the primary disclosure rule would
    publish; the release flags again over what it actually publishes (tasks/publish.py).
    """
    comparisons = pd.concat(
        [compare_characteristics(levels), compare_statements(statements)], ignore_index=True
    )
    comparisons["differs_from_rest_of_wales"] = flag_comparisons(
        comparisons, primary_publishable(comparisons, levels, statements)
    )
    return comparisons.sort_values(["council", "measure", "item_id", "recipient_group"], ignore_index=True)


def primary_publishable(
    comparisons: pd.DataFrame, levels: pd.DataFrame, statements: pd.DataFrame
) -> pd.Series:
    """Comparisons whose council figure rests on enough answers in every group it is made of."""
    least = load_settings().disclosure.min_valid_answers
    bases = pd.concat(
        [
            levels.assign(measure="mean_level", item_id=levels["characteristic"]),
            statements.assign(measure="pct_agree", item_id=statements["statement_id"]),
        ]
    )
    groups = bases[bases["recipient_group"] != ALL_GROUPS]
    enough = groups.assign(ok=(groups["n_valid"] >= least) | (groups["n_answered"] == 0))
    keys = ["gss_code", "measure", "item_id"]
    complete = enough.groupby(keys)["ok"].all()
    own = enough.set_index([*keys, "recipient_group"])["n_valid"] >= least
    council_keys = pd.MultiIndex.from_frame(comparisons[["council", "measure", "item_id"]])
    group_keys = pd.MultiIndex.from_frame(comparisons[["council", "measure", "item_id", "recipient_group"]])
    is_all = (comparisons["recipient_group"] == ALL_GROUPS).to_numpy()
    whole = complete.reindex(council_keys).fillna(False).to_numpy(dtype=bool)
    single = own.reindex(group_keys).fillna(False).to_numpy(dtype=bool)
    return pd.Series(np.where(is_all, whole, single), index=comparisons.index)


def survey_respondents(survey: pd.DataFrame) -> pd.DataFrame:
    """One row per public survey respondent with the weighting variables."""
    return survey.drop_duplicates("respondent_id")[["respondent_id", "gss_code", "age_band", "sex"]]


def compute_survey_weights(survey: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Raking weights for every public survey respondent; a data problem stops the run clearly."""
    method = load_settings().weighting
    respondents = survey_respondents(survey).reset_index(drop=True)
    try:
        weights = rake_weights(
            respondents,
            population_margins(population, list(method.margins)),
            method.tolerance,
            method.max_iterations,
        )
    except WeightingError as error:
        raise DatasetError(f"public_survey.csv and population.csv: {error}") from error
    return respondents.assign(weight=weights)


def compute_public_survey_results(survey: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Weighted % yes per question for Wales, Wilson interval on Kish's effective sample size."""
    settings = load_settings()
    method = settings.weighting
    weighted = compute_survey_weights(survey, population)
    overall = summarise_weights(weighted["weight"].to_numpy(), method.warn_above_mean_ratio)
    answers = survey[survey["answer"].notna()].merge(
        weighted[["respondent_id", "weight"]], on="respondent_id"
    )
    yes = settings.public_survey.yes_answer
    rows = []
    for question, part in answers.groupby("question_id", sort=True):
        weights = part["weight"].to_numpy()
        said_yes = (part["answer"] == yes).to_numpy()
        effective = kish_effective_size(weights)
        share = float(weights[said_yes].sum() / weights.sum())
        lower, upper = wilson_interval(share, effective, settings.public_survey.confidence_level)
        rows.append(
            {
                "gss_code": WALES_GSS_CODE,
                "question_id": question,
                "n_valid": len(part),
                "n_yes": int(said_yes.sum()),
                "n_dont_know": int((part["answer"] == settings.public_survey.dont_know_answer).sum()),
                "share_yes_unweighted": float(said_yes.mean()),
                "share_yes": share,
                "ci_lower": float(lower),
                "ci_upper": float(upper),
                "effective_size": effective,
                "design_effect": len(part) / effective,
                "weight_min": overall.min_weight,
                "weight_max": overall.max_weight,
                "weight_max_to_mean": overall.max_to_mean,
            }
        )
    return pd.DataFrame(rows)


def compute_comment_themes(comments: pd.DataFrame) -> pd.DataFrame:
    """Comments redacted and coded to barrier themes, with each council's chosen quotes ranked."""
    settings = load_settings()
    rules = load_comment_rules()
    themes = build_theme_rules(rules)
    coded = code_comments(comments, build_redactor(rules, settings.councils), themes)
    coded["recipient_group"] = coded["tool_id"].map({t.id: t.recipient_group for t in settings.tools})
    coded["quote_rank"] = select_quotes(coded, themes)
    return coded


@dataclass
class Scores:
    """Everything the publish stage needs, read back from the warehouse after scoring."""

    wave: str
    response_rates: pd.DataFrame
    maturity_levels: pd.DataFrame  # councils and Wales (W92000004)
    level_distribution: pd.DataFrame
    theme_summary: pd.DataFrame
    statement_results: pd.DataFrame
    public_survey_results: pd.DataFrame
    perception_gaps: pd.DataFrame
    wales_comparisons: pd.DataFrame
    # Restricted: redacted comments and quotes for reports, never for open data.
    comment_themes: pd.DataFrame
    # Change since the earlier wave (tasks/wave_change.py): set only when that wave is in the warehouse.
    earlier_wave: str | None = None
    maturity_change: pd.DataFrame | None = None
    statement_change: pd.DataFrame | None = None


def check_answers_loaded(counted: pd.DataFrame, councils: list[str] | None) -> None:
    """Stop in one line when the councils to score have no answers at all: there is nothing to score."""
    if len(counted):
        return
    names = {c.gss_code: c.name_en for c in load_settings().councils}
    which = ", ".join(f"{code} ({names.get(code, code)})" for code in councils) if councils else "any council"
    raise DatasetError(
        f"no answers from any data tool were loaded for {which}: its rows are missing from the study's "
        "files, or were all quarantined (see the run's quarantine.csv). Fix its files and run again; to "
        "publish without it, run the national study (`maturity run`)."
    )


def score_councils(warehouse: Path, wave: str, councils: list[str] | None = None) -> None:
    """Score councils from their warehouse partitions (all, or only those named) and store the results."""
    rates = compute_response_rates(
        read_arrow(warehouse, "invitations", wave, councils, columns=INVITATION_COLUMNS).to_pandas(),
        count_stored_respondents(warehouse, wave, councils),
    )
    counted = count_stored_answers(warehouse, wave, councils)
    check_answers_loaded(counted, councils)
    maturity = compute_maturity(counted, wave)
    statements = compute_statement_results_from_counts(count_statement_answers(counted))
    council_statements = statements[statements["gss_code"] != WALES_GSS_CODE]
    gaps = pd.concat([maturity.gaps, statement_gaps(council_statements)], ignore_index=True)
    write_table(warehouse, "response_rates", wave, rates, councils)
    write_table(warehouse, "maturity_levels", wave, maturity.levels, councils)
    write_table(warehouse, "maturity_themes", wave, compute_theme_summary(maturity.levels), councils)
    write_table(warehouse, "statement_results", wave, council_statements, councils)
    write_table(warehouse, "perception_gaps", wave, gaps, councils)
    comments = compute_comment_themes(read_table(warehouse, "comments", wave, councils))
    write_table(warehouse, "comment_themes", wave, comments, councils)


def score_national(warehouse: Path, wave: str) -> Scores:
    """Recompute the Wales-wide figures from every council's stored results, and return all scores.

    Only the Wales (W92000004) partitions are written here, so a council rerun leaves every other
    council's stored results untouched. Each council's comparison with the rest of Wales depends on
    every council, so it is stored with the Wales figures.
    """
    wales = [WALES_GSS_CODE]
    council_rates = read_table(warehouse, "response_rates", wave)
    council_rates = council_rates[council_rates["gss_code"] != WALES_GSS_CODE]
    wales_rates = summarise_wales_response_rates(council_rates)
    statements = compute_statement_results_from_counts(stored_statement_counts(warehouse, wave))
    council_levels = read_table(warehouse, "maturity_levels", wave)
    council_levels = council_levels[council_levels["gss_code"] != WALES_GSS_CODE]
    wales_levels = compute_wales_levels(council_levels, wave)
    levels = pd.concat([council_levels, wales_levels], ignore_index=True)
    comparisons = compute_wales_comparisons(levels, statements)
    survey = compute_public_survey_results(
        read_table(warehouse, "public_survey", wave), read_table(warehouse, "population", wave)
    )
    write_table(warehouse, "response_rates", wave, wales_rates, wales)
    write_table(warehouse, "maturity_levels", wave, wales_levels, wales)
    write_table(
        warehouse, "statement_results", wave, statements[statements["gss_code"] == WALES_GSS_CODE], wales
    )
    write_table(warehouse, "wales_comparisons", wave, comparisons.assign(gss_code=WALES_GSS_CODE), wales)
    write_table(warehouse, "public_survey_results", wave, survey, wales)
    return Scores(
        wave=wave,
        response_rates=pd.concat([council_rates, wales_rates], ignore_index=True),
        maturity_levels=levels,
        level_distribution=national_level_distribution(council_levels),
        theme_summary=read_table(warehouse, "maturity_themes", wave),
        statement_results=statements,
        public_survey_results=survey,
        perception_gaps=read_table(warehouse, "perception_gaps", wave),
        wales_comparisons=comparisons,
        comment_themes=read_table(warehouse, "comment_themes", wave),
    )


def stored_statement_counts(warehouse: Path, wave: str) -> pd.DataFrame:
    """Each council's per-group statement counts, as stored by score_councils."""
    stored = read_table(warehouse, "statement_results", wave)
    groups = stored[(stored["gss_code"] != WALES_GSS_CODE) & (stored["recipient_group"] != ALL_GROUPS)]
    return groups[["gss_code", "statement_id", "recipient_group", *STATEMENT_COUNTS]].reset_index(drop=True)


@task(name="score-councils", cache_policy=NONE)
def score_councils_task(warehouse: Path, wave: str, councils: list[str] | None = None) -> None:
    """Prefect wrapper: score councils."""
    score_councils(warehouse, wave, councils)


@task(name="score-national", cache_policy=NONE)
def score_national_task(warehouse: Path, wave: str) -> Scores:
    """Prefect wrapper: national figures and all scores."""
    return score_national(warehouse, wave)
