"""Score: response rates, maturity levels, statements, public survey and comments (docs/methodology.md)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
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
from maturity.stats import intervals_separate, kish_effective_size, wilson_interval
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


def round_half_up(value: float, digits: int = 0) -> float:
    """Round as people expect (0.5 goes up), not to even as Python's round() does."""
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


# Added before rounding so that a true tie that floating point computed a hair below .5 still rounds
# away from zero; published values are ratios of counts, never this close to a tie unless they are one.
_TIE_TOLERANCE = 1e-9


def round_half_away(values: pd.Series, digits: int) -> pd.Series:
    """Round half away from zero, as UK official statistics do: the one rule for every published figure."""
    numbers = values.astype("float64")
    scale = 10.0**digits
    rounded = np.sign(numbers) * np.floor(np.abs(numbers) * scale + 0.5 + _TIE_TOLERANCE) / scale
    return pd.Series(rounded, index=values.index).where(values.notna())


def whole_percent(numerator: int, denominator: int) -> int:
    """A count as a whole percentage of another, rounded half up: 67 of 133 is 50%."""
    return int(round_half_up(100 * numerator / denominator)) if denominator else 0


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

    def bootstrap_means(self, rng: np.random.Generator, replicates: int) -> np.ndarray:
        """Mean level in resamples of the group's respondents (multinomial draws over their answers)."""
        total = int(self.counts.sum())
        draws = rng.multinomial(total, self.counts / total, size=replicates)
        valid = draws[:, :3].sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(valid > 0, draws[:, :3] @ np.array(LEVELS) / valid, np.nan)


def cell_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator seeded by the cell's identity, so a council's intervals don't depend on the others."""
    return np.random.default_rng([seed, *(zlib.crc32(k.encode()) for k in keys)])


def summarise_cell(
    samples: dict[str, GroupSample], method: MaturityMethod, rng: np.random.Generator
) -> list[dict]:
    """Rows for each group and for all groups weighted equally, each with a bootstrap interval."""
    alpha = (1 - method.confidence_level) / 2
    replicate_means = {
        group: sample.bootstrap_means(rng, method.bootstrap_replicates)
        for group, sample in samples.items()
        if sample.counts.sum() > 0
    }
    contributing = [g for g, s in samples.items() if s.n_valid > 0]
    rows = []
    for group, sample in samples.items():
        rows.append(
            _row(
                group,
                sample.counts,
                sample.mean,
                sample.shares,
                replicate_means.get(group),
                sample.n_valid < method.low_base_below,
                method,
                alpha,
            )
        )
    counts = sum(s.counts for s in samples.values())
    if contributing:
        shares = np.mean([samples[g].shares for g in contributing], axis=0)
        mean = float(np.dot(shares, LEVELS))
        combined = np.nanmean(np.vstack([replicate_means[g] for g in contributing]), axis=0)
    else:
        shares, mean, combined = np.full(3, np.nan), np.nan, None
    low_base = effective_base([samples[g].n_valid for g in contributing]) < method.low_base_below
    rows.append(_row(ALL_GROUPS, counts, mean, shares, combined, low_base, method, alpha))
    return rows


def effective_base(bases: list[int]) -> float:
    """The base a mean of group means weighted equally is as precise as: 4 / (1/n1 + 1/n2) for two."""
    if not bases:
        return 0.0
    return len(bases) ** 2 / sum(1 / n for n in bases)


def _row(
    group: str,
    counts: np.ndarray,
    mean: float,
    shares: np.ndarray,
    replicates: np.ndarray | None,
    low_base: bool,
    method: MaturityMethod,
    alpha: float,
) -> dict:
    if replicates is not None and np.isfinite(replicates).any():
        lower, upper = np.nanquantile(replicates, [alpha, 1 - alpha])
    else:
        lower = upper = np.nan
    return {
        "recipient_group": group,
        "n_answered": int(counts.sum()),
        "n_valid": int(counts[:3].sum()),
        "n_dont_know": int(counts[3]),
        "share_level_1": shares[0],
        "share_level_2": shares[1],
        "share_level_3": shares[2],
        "mean_level": mean,
        "level": assign_level(mean, method),
        "ci_lower": float(lower),
        "ci_upper": float(upper),
        "low_base": bool(low_base),
    }


def _category_counts(row: tuple) -> np.ndarray:
    return np.array([row.n_level_1, row.n_level_2, row.n_level_3, row.n_dont_know], dtype="int64")


def compute_maturity_levels(counted: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Maturity per council x characteristic for officers, elected members and all (equal weights).

    counted: answers counted by count_answers or count_stored_answers.
    """
    settings = load_settings()
    method = settings.maturity
    counts = count_level_answers(counted, settings.responses.dont_know)
    groups = list(settings.recipient_groups)
    empty = np.zeros(_CATEGORIES, dtype="int64")
    by_cell = {
        key: {row.recipient_group: row for row in part.itertuples()}
        for key, part in counts.groupby(["gss_code", "characteristic"], sort=True)
    }
    rows = []
    for (gss_code, characteristic), found in by_cell.items():
        samples = {
            group: GroupSample(_category_counts(found[group]) if group in found else empty)
            for group in groups
        }
        rng = cell_rng(method.bootstrap_seed, wave, gss_code, characteristic)
        for row in summarise_cell(samples, method, rng):
            rows.append({"gss_code": gss_code, "characteristic": characteristic, **row})
    table = pd.DataFrame(rows)
    table["level"] = table["level"].astype("Int8")
    return table


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
    """Statement results from per-council, per-group counts: pooled rows, shares, intervals, flags.

    A council is flagged where its interval and Wales's interval for the same group do not overlap.
    """
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
    wales = table[table["gss_code"] == WALES_GSS_CODE].set_index(["statement_id", "recipient_group"])
    national = wales[["ci_lower", "ci_upper"]].reindex(
        pd.MultiIndex.from_frame(table[["statement_id", "recipient_group"]])
    )
    differs = intervals_separate(
        table["ci_lower"], table["ci_upper"], national["ci_lower"].to_numpy(), national["ci_upper"].to_numpy()
    )
    is_council = (table["gss_code"] != WALES_GSS_CODE).to_numpy()
    table["differs_from_national"] = pd.array(np.where(is_council, differs, pd.NA), dtype="boolean")
    return table.sort_values(["gss_code", "statement_id", "recipient_group"], ignore_index=True)


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
    maturity_levels: pd.DataFrame
    level_distribution: pd.DataFrame
    theme_summary: pd.DataFrame
    statement_results: pd.DataFrame
    public_survey_results: pd.DataFrame
    # Restricted: redacted comments and quotes for reports, never for open data.
    comment_themes: pd.DataFrame


def score_councils(warehouse: Path, wave: str, councils: list[str] | None = None) -> None:
    """Score councils from their warehouse partitions (all, or only those named) and store the results."""
    rates = compute_response_rates(
        read_arrow(warehouse, "invitations", wave, councils, columns=INVITATION_COLUMNS).to_pandas(),
        count_stored_respondents(warehouse, wave, councils),
    )
    counted = count_stored_answers(warehouse, wave, councils)
    maturity = compute_maturity_levels(counted, wave)
    statements = compute_statement_results_from_counts(count_statement_answers(counted))
    council_statements = statements[statements["gss_code"] != WALES_GSS_CODE]
    write_table(warehouse, "response_rates", wave, rates, councils)
    write_table(warehouse, "maturity_levels", wave, maturity, councils)
    write_table(warehouse, "maturity_themes", wave, compute_theme_summary(maturity), councils)
    write_table(warehouse, "statement_results", wave, council_statements, councils)
    comments = compute_comment_themes(read_table(warehouse, "comments", wave, councils))
    write_table(warehouse, "comment_themes", wave, comments, councils)


def score_national(warehouse: Path, wave: str) -> Scores:
    """Recompute the Wales-wide figures from every council's stored results, and return all scores.

    Only the Wales (W92000004) partitions are written here, so a council rerun leaves every other
    council's stored results untouched. Comparisons with Wales are derived, not stored per council.
    """
    council_rates = read_table(warehouse, "response_rates", wave)
    council_rates = council_rates[council_rates["gss_code"] != WALES_GSS_CODE]
    wales_rates = summarise_wales_response_rates(council_rates)
    statements = compute_statement_results_from_counts(stored_statement_counts(warehouse, wave))
    survey = compute_public_survey_results(
        read_table(warehouse, "public_survey", wave), read_table(warehouse, "population", wave)
    )
    write_table(warehouse, "response_rates", wave, wales_rates, [WALES_GSS_CODE])
    write_table(
        warehouse,
        "statement_results",
        wave,
        statements[statements["gss_code"] == WALES_GSS_CODE],
        [WALES_GSS_CODE],
    )
    write_table(warehouse, "public_survey_results", wave, survey, [WALES_GSS_CODE])
    maturity = read_table(warehouse, "maturity_levels", wave)
    return Scores(
        wave=wave,
        response_rates=pd.concat([council_rates, wales_rates], ignore_index=True),
        maturity_levels=maturity,
        level_distribution=national_level_distribution(maturity),
        theme_summary=read_table(warehouse, "maturity_themes", wave),
        statement_results=statements,
        public_survey_results=survey,
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
