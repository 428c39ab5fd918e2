"""Score: response rates and maturity levels with bootstrap intervals (DESIGN.md section 5)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from maturity.settings import ALL_GROUPS, TOTAL_GROUP, WALES_GSS_CODE, MaturityMethod, load_settings
from warehouse.store import read_table, write_table

LEVELS = (1, 2, 3)
# Answer categories counted per respondent: the three levels, then don't know.
_CATEGORIES = 4


def round_half_up(value: float, digits: int = 0) -> float:
    """Round as people expect (0.5 goes up), not to even as Python's round() does."""
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def whole_percent(numerator: int, denominator: int) -> int:
    """A count as a whole percentage of another, rounded half up: 67 of 133 is 50%."""
    return int(round_half_up(100 * numerator / denominator)) if denominator else 0


def compute_response_rates(invitations: pd.DataFrame, respondents: pd.DataFrame) -> pd.DataFrame:
    """Invited, responses and rate per council x recipient group, plus each council's total."""
    invited = invitations.groupby(["gss_code", "recipient_group"])["invited"].sum()
    answered = respondents.groupby(["gss_code", "recipient_group"]).size()
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


def count_level_answers(answers: pd.DataFrame, dont_know: str) -> pd.DataFrame:
    """Counts of 1, 2, 3 and don't know per council x characteristic x recipient group."""
    levels = answers[(answers["item_type"] == "level") & answers["answer"].notna()]
    category = levels["answer"].map({"1": 0, "2": 1, "3": 2, dont_know: 3})
    counts = (
        pd.crosstab(
            [levels["gss_code"], levels["item_id"], levels["recipient_group"]],
            category,
        )
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
    low_base = any(s.n_valid < method.low_base_below for s in samples.values())
    rows.append(_row(ALL_GROUPS, counts, mean, shares, combined, low_base, method, alpha))
    return rows


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


def compute_maturity_levels(answers: pd.DataFrame, wave: str) -> pd.DataFrame:
    """Maturity per council x characteristic for officers, elected members and all (equal weights)."""
    settings = load_settings()
    method = settings.maturity
    counts = count_level_answers(answers, settings.responses["dont_know"])
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


@dataclass
class Scores:
    """Everything the publish stage needs, read back from the warehouse after scoring."""

    wave: str
    response_rates: pd.DataFrame
    maturity_levels: pd.DataFrame
    level_distribution: pd.DataFrame


def score_councils(warehouse: Path, wave: str, councils: list[str] | None = None) -> None:
    """Score councils from their warehouse partitions (all, or only those named) and store the results."""
    rates = compute_response_rates(
        read_table(warehouse, "invitations", wave, councils),
        read_table(warehouse, "respondents", wave, councils),
    )
    maturity = compute_maturity_levels(read_table(warehouse, "answers", wave, councils), wave)
    write_table(warehouse, "response_rates", wave, rates, councils)
    write_table(warehouse, "maturity_levels", wave, maturity, councils)


def score_national(warehouse: Path, wave: str) -> Scores:
    """Recompute the Wales-wide figures from every council's stored results, and return all scores."""
    council_rates = read_table(warehouse, "response_rates", wave)
    wales = summarise_wales_response_rates(council_rates)
    write_table(warehouse, "response_rates", wave, wales, [WALES_GSS_CODE])
    rates = pd.concat([council_rates[council_rates["gss_code"] != WALES_GSS_CODE], wales], ignore_index=True)
    maturity = read_table(warehouse, "maturity_levels", wave)
    return Scores(wave, rates, maturity, national_level_distribution(maturity))


@task(name="score-councils", cache_policy=NONE)
def score_councils_task(warehouse: Path, wave: str, councils: list[str] | None = None) -> None:
    """Prefect wrapper: score councils."""
    score_councils(warehouse, wave, councils)


@task(name="score-national", cache_policy=NONE)
def score_national_task(warehouse: Path, wave: str) -> Scores:
    """Prefect wrapper: national figures and all scores."""
    return score_national(warehouse, wave)
