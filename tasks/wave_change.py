"""Change since the earlier wave: each council's and Wales's mean level and % agree, then and now.

Computed from the warehouse's scored rows of both waves, for the characteristics and statements that
config/comparability.yaml says can be set side by side. The two waves' respondents are different people,
so the samples are independent: a mean level's change has the interval of a difference of two tail
posteriors (the one the officer-member gap uses, docs/methodology.md), % agree's Newcombe's interval.
A change is clear where its interval leaves out zero. Which rows are published is decided at release
(tasks/publish.py): only where both waves' own figures are published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from maturity.settings import ALL_GROUPS, WALES_GSS_CODE, load_settings
from maturity.stats import newcombe_difference_interval
from tasks.score import (
    GroupSample,
    Scores,
    TailDraws,
    cell_rng,
    cell_samples,
    draw_cell_means,
    tail_difference_interval,
)
from warehouse.store import read_table, table_dir, write_table

MATURITY_CHANGE = "maturity_change"
STATEMENT_CHANGE = "statement_change"


class Comparison(Protocol):
    """Which items of a later wave continue which of an earlier one (maturity.comparability)."""

    earlier: str
    later: str
    characteristics: Mapping[str, str]  # later id -> earlier id
    statements: Mapping[str, str]


@dataclass(frozen=True)
class CellDraws:
    """One council x characteristic in one wave: its group samples and posterior draws."""

    samples: dict[str, GroupSample]
    draws: dict[str, TailDraws]


def draw_wave_cells(
    levels: pd.DataFrame, wave: str, characteristics: list[str]
) -> dict[tuple[str, str], CellDraws]:
    """The posterior draws behind a wave's scored rows, redrawn with the seeds scoring used."""
    settings = load_settings()
    method = settings.maturity
    groups = levels[levels["recipient_group"] != ALL_GROUPS]
    groups = groups[groups["characteristic"].isin(characteristics)]
    cells = {}
    for (gss_code, characteristic), samples in cell_samples(groups, list(settings.recipient_groups)).items():
        rng = cell_rng(method.posterior_seed, wave, gss_code, characteristic)
        cells[(gss_code, characteristic)] = CellDraws(samples, draw_cell_means(samples, method, rng))
    return cells


def compute_maturity_change(
    earlier: pd.DataFrame, later: pd.DataFrame, comparison: Comparison
) -> pd.DataFrame:
    """Mean level and level per gss_code x characteristic x group in both waves, and the change between."""
    confidence = load_settings().maturity.confidence_level
    pairs = dict(comparison.characteristics)
    then = draw_wave_cells(earlier, comparison.earlier, sorted(set(pairs.values())))
    now = draw_wave_cells(later, comparison.later, sorted(pairs))
    earlier_rows = earlier.set_index(["gss_code", "characteristic", "recipient_group"])
    rows = []
    for row in later[later["characteristic"].isin(pairs)].itertuples(index=False):
        before = (row.gss_code, pairs[row.characteristic], row.recipient_group)
        if before not in earlier_rows.index:
            continue  # not scored in the earlier wave (no answers then): nothing to compare with
        old = earlier_rows.loc[before]
        old_draws = then[before[:2]].draws.get(row.recipient_group)
        new_draws = now[(row.gss_code, row.characteristic)].draws.get(row.recipient_group)
        if old_draws is not None and new_draws is not None:
            lower, upper = tail_difference_interval(new_draws, old_draws, confidence)
        else:
            lower = upper = np.nan
        rows.append(
            {
                "gss_code": row.gss_code,
                "characteristic": row.characteristic,
                "earlier_characteristic": before[1],
                "recipient_group": row.recipient_group,
                "earlier_wave": comparison.earlier,
                "n_valid_earlier": int(old["n_valid"]),
                "n_valid": int(row.n_valid),
                "mean_level_earlier": float(old["mean_level"]),
                "mean_level": float(row.mean_level),
                "level_earlier": _level(old["level"]),
                "level": _level(row.level),
                "change": float(row.mean_level - old["mean_level"]),
                "change_ci_lower": lower,
                "change_ci_upper": upper,
                "change_is_clear": _clear(lower, upper),
            }
        )
    return _typed(pd.DataFrame(rows, columns=MATURITY_CHANGE_COLUMNS), ("level_earlier", "level"))


MATURITY_CHANGE_COLUMNS = [
    "gss_code",
    "characteristic",
    "earlier_characteristic",
    "recipient_group",
    "earlier_wave",
    "n_valid_earlier",
    "n_valid",
    "mean_level_earlier",
    "mean_level",
    "level_earlier",
    "level",
    "change",
    "change_ci_lower",
    "change_ci_upper",
    "change_is_clear",
]
STATEMENT_CHANGE_COLUMNS = [
    "gss_code",
    "statement_id",
    "earlier_statement_id",
    "recipient_group",
    "earlier_wave",
    "n_valid_earlier",
    "n_valid",
    "share_agree_earlier",
    "share_agree",
    "change",
    "change_ci_lower",
    "change_ci_upper",
    "change_is_clear",
]


def compute_statement_change(
    earlier: pd.DataFrame, later: pd.DataFrame, comparison: Comparison
) -> pd.DataFrame:
    """% agree per gss_code x statement x group in both waves, and the change with Newcombe's interval."""
    confidence = load_settings().statement_method.confidence_level
    pairs = dict(comparison.statements)
    earlier_rows = earlier.set_index(["gss_code", "statement_id", "recipient_group"])
    rows = []
    for row in later[later["statement_id"].isin(pairs)].itertuples(index=False):
        before = (row.gss_code, pairs[row.statement_id], row.recipient_group)
        if before not in earlier_rows.index:
            continue
        old = earlier_rows.loc[before]
        n_then, n_now = int(old["n_valid"]), int(row.n_valid)
        share_then = old["n_agree"] / n_then if n_then else np.nan
        share_now = row.n_agree / n_now if n_now else np.nan
        if n_then and n_now:
            lower, upper = newcombe_difference_interval(share_now, n_now, share_then, n_then, confidence)
        else:
            lower = upper = np.nan
        rows.append(
            {
                "gss_code": row.gss_code,
                "statement_id": row.statement_id,
                "earlier_statement_id": before[1],
                "recipient_group": row.recipient_group,
                "earlier_wave": comparison.earlier,
                "n_valid_earlier": n_then,
                "n_valid": n_now,
                "share_agree_earlier": float(share_then),
                "share_agree": float(share_now),
                "change": float(share_now - share_then),
                "change_ci_lower": lower,
                "change_ci_upper": upper,
                "change_is_clear": _clear(lower, upper),
            }
        )
    return pd.DataFrame(rows, columns=STATEMENT_CHANGE_COLUMNS)


def _level(value: object) -> int | None:
    return None if pd.isna(value) else int(value)  # type: ignore[arg-type]


def _clear(lower: float, upper: float) -> bool:
    return bool(np.isfinite(lower) and np.isfinite(upper) and (lower > 0 or upper < 0))


def _typed(table: pd.DataFrame, levels: tuple[str, ...]) -> pd.DataFrame:
    for column in levels:
        table[column] = table[column].astype("Int8")
    return table


def earlier_wave_scored(warehouse: Path, comparison: Comparison | None) -> bool:
    """Whether the earlier wave of a declared comparison has been scored into this warehouse."""
    return comparison is not None and table_dir(warehouse, "maturity_levels", comparison.earlier).is_dir()


def store_wave_change(warehouse: Path, comparison: Comparison | None, councils: list[str] | None) -> None:
    """Compute and store the change since the earlier wave for the councils given (all: and Wales).

    Reads both waves' scored rows from the warehouse, so it runs after the national scores. Nothing is
    written for a wave without a declared earlier wave (its warehouse keeps its layout); with one declared
    but not scored in this OUT, the change tables are stored empty.
    """
    if comparison is None:
        return
    scope = None if councils is None else [*councils, WALES_GSS_CODE]
    if earlier_wave_scored(warehouse, comparison):
        maturity = compute_maturity_change(
            read_table(warehouse, "maturity_levels", comparison.earlier, scope),
            read_table(warehouse, "maturity_levels", comparison.later, scope),
            comparison,
        )
        statement = compute_statement_change(
            read_table(warehouse, "statement_results", comparison.earlier, scope),
            read_table(warehouse, "statement_results", comparison.later, scope),
            comparison,
        )
    else:
        maturity = pd.DataFrame(columns=MATURITY_CHANGE_COLUMNS)
        statement = pd.DataFrame(columns=STATEMENT_CHANGE_COLUMNS)
    write_table(warehouse, MATURITY_CHANGE, comparison.later, maturity, scope)
    write_table(warehouse, STATEMENT_CHANGE, comparison.later, statement, scope)


def score_change(warehouse: Path, scores: Scores, councils: list[str] | None = None) -> Scores:
    """Store the change since the wave's earlier wave (if any) and return the scores with it."""
    from maturity.comparability import comparison_for

    comparison = comparison_for(scores.wave)
    store_wave_change(warehouse, comparison, councils)
    if comparison is None or not earlier_wave_scored(warehouse, comparison):
        return scores
    return replace(
        scores,
        earlier_wave=comparison.earlier,
        maturity_change=read_table(warehouse, MATURITY_CHANGE, scores.wave),
        statement_change=read_table(warehouse, STATEMENT_CHANGE, scores.wave),
    )


@task(name="score-change", cache_policy=NONE)
def score_change_task(warehouse: Path, scores: Scores, councils: list[str] | None = None) -> Scores:
    """Prefect wrapper: the change since the earlier wave."""
    return score_change(warehouse, scores, councils)
