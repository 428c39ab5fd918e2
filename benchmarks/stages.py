"""Benchmark each stage at a demo scale, in one fresh process, and score against a DuckDB baseline."""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from maturity.demo import write_demo_study
from maturity.settings import TOTAL_GROUP, WALES_GSS_CODE, load_settings

# One SQL query for the same response rates and maturity levels our scoring computes (no intervals),
# returning every row, so the benchmark can check DuckDB and our scoring agree before timing them.
DUCKDB_BASELINE = """
WITH invited AS (
    SELECT gss_code, recipient_group, sum(invited) AS invited
    FROM read_parquet('{w}/invitations/wave={wave}/*/*.parquet', hive_partitioning = true)
    GROUP BY ALL
), answered AS (
    SELECT gss_code, recipient_group, count(*) AS responses
    FROM read_parquet('{w}/respondents/wave={wave}/*/*.parquet', hive_partitioning = true)
    GROUP BY ALL
), rates AS (
    SELECT i.gss_code, i.recipient_group, i.invited, coalesce(a.responses, 0) AS responses,
           coalesce(a.responses, 0) / i.invited AS response_rate
    FROM invited i LEFT JOIN answered a USING (gss_code, recipient_group)
), group_means AS (
    SELECT gss_code, item_id AS characteristic, recipient_group,
           count(answer_value) AS n_valid, avg(answer_value) AS mean_level
    FROM read_parquet('{w}/answers/wave={wave}/*/*.parquet', hive_partitioning = true)
    WHERE item_type = 'level'
    GROUP BY ALL
), combined AS (
    SELECT gss_code, characteristic, 'all' AS recipient_group, sum(n_valid) AS n_valid,
           avg(mean_level) AS mean_level
    FROM group_means WHERE n_valid > 0 GROUP BY ALL
), levels AS (
    SELECT *, CASE WHEN mean_level < {l2} THEN 1 WHEN mean_level < {l3} THEN 2 ELSE 3 END AS level
    FROM (SELECT * FROM group_means UNION ALL SELECT * FROM combined)
)
SELECT 'level' AS kind, gss_code, characteristic AS item, recipient_group, n_valid AS n, level AS value
FROM levels
UNION ALL
SELECT 'rate', gss_code, NULL, recipient_group, responses, response_rate FROM rates
"""


def check_baseline_agrees(baseline: pd.DataFrame, scores: Any) -> None:
    """DuckDB's levels and group response rates must be ours, or the comparison means nothing."""
    levels_table = scores.maturity_levels
    ours = levels_table[levels_table["gss_code"] != WALES_GSS_CODE].dropna(subset=["level"])
    levels = baseline[baseline["kind"] == "level"].dropna(subset=["value"])
    theirs = {(r.gss_code, r.item, r.recipient_group): int(r.value) for r in levels.itertuples()}
    mine = {(r.gss_code, r.characteristic, r.recipient_group): int(r.level) for r in ours.itertuples()}
    if theirs != mine:
        raise RuntimeError(
            f"DuckDB and our scoring disagree on {len(set(theirs.items()) ^ set(mine.items()))} levels"
        )
    rates = baseline[baseline["kind"] == "rate"]
    theirs_rates = {(r.gss_code, r.recipient_group): int(r.n) for r in rates.itertuples()}
    rates = scores.response_rates
    council_rates = rates[(rates["recipient_group"] != TOTAL_GROUP) & (rates["gss_code"] != WALES_GSS_CODE)]
    mine_rates = {(r.gss_code, r.recipient_group): int(r.responses) for r in council_rates.itertuples()}
    if theirs_rates != mine_rates:
        raise RuntimeError("DuckDB and our scoring disagree on response counts")


def count_rates_and_levels(warehouse: Path, wave: str) -> None:
    """The part of our scoring the DuckDB query matches: rates, and level counts per council x cell.

    Our stage goes on to bootstrap intervals (fixed cost per cell, whatever the rows), statements,
    survey weights and comments; the baseline does none of that.
    """
    from tasks.score import (
        INVITATION_COLUMNS,
        compute_response_rates,
        count_level_answers,
        count_stored_answers,
        count_stored_respondents,
    )
    from warehouse.store import read_arrow

    compute_response_rates(
        read_arrow(warehouse, "invitations", wave, columns=INVITATION_COLUMNS).to_pandas(),
        count_stored_respondents(warehouse, wave),
    )
    count_level_answers(count_stored_answers(warehouse, wave), load_settings().responses.dont_know)


@contextmanager
def stopwatch(results: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to results[name]."""
    started = time.perf_counter()
    try:
        yield
    finally:
        results[name] = results.get(name, 0.0) + time.perf_counter() - started


# The pipeline's steps, grouped into the stages this benchmark has always reported.
STAGE_OF_STEP = {
    "extract": "extract",
    "restrict": "extract",
    "validate": "validate",
    "reconcile": "validate",
    "record_inputs": "quality record (quarantine, accounting, Data Docs)",
    "load": "load",
    "score_councils": "score",
    "score_national": "score",
    "write_quote_candidates": "quote candidates",
    "control_disclosure": "disclosure control and integer audit",
    "plan_release": "publish open data",
    "plan_reports": "render reports (HTML, en + cy)",
    "render_reports": "render reports (HTML, en + cy)",
    "finish_reports": "render reports (HTML, en + cy)",
    "publish_open_data": "publish open data",
}


def timed_steps(steps: Any, seconds: dict[str, float]) -> Any:
    """The same pipeline steps, each adding its wall time to its stage in seconds."""

    def timed(step: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with stopwatch(seconds, STAGE_OF_STEP[step]):
                return function(*args, **kwargs)

        return call

    return dataclasses.replace(steps, **{name: timed(name, getattr(steps, name)) for name in STAGE_OF_STEP})


def measure(scale: int) -> dict[str, Any]:
    """Time each stage of the shipped pipeline (plain steps) on one demo study, and the DuckDB baseline."""
    import duckdb

    from flows.pipeline import Options, Scope, Target, plain_steps, run_pipeline
    from tasks.extract import extract_dataset
    from tasks.study import read_study
    from tasks.validate import validate_table

    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="maturity-stages-") as folder:
        root = Path(folder)
        with stopwatch(seconds, "write demo study"):
            study = read_study(write_demo_study(root / "s", scale=scale))
        # GX's import and context: a one-off, not per-scale work.
        validate_table(extract_dataset(study, "invitations"), study)
        target = Target(root / "version", root / "quality")
        steps = timed_steps(plain_steps(), seconds)
        scores = run_pipeline(steps, study, target, Scope.national(), Options()).scores
        with stopwatch(seconds, "score: rates and level counts only (what DuckDB computes)"):
            count_rates_and_levels(target.warehouse, study.wave)
        method = load_settings().maturity
        query = DUCKDB_BASELINE.format(
            w=target.warehouse, wave=study.wave, l2=method.level_2_from, l3=method.level_3_from
        )
        check_baseline_agrees(duckdb.sql(query).df(), scores)
        with stopwatch(seconds, "score baseline (DuckDB)"):
            duckdb.sql(query).df()
        answers = sum(1 for _ in target.warehouse.glob("answers/*/*/*.parquet"))
    return {
        "scale": scale,
        "seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "answer_partitions": answers,
    }


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]))))
