"""Benchmark: a council rerun against a national run, cold (CLI processes) and warm (one process)."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.processes import Timing, time_cli
from maturity.demo import write_demo_study

COUNCIL = "W06000004"
COUNCIL_SPELLINGS = {"Denbighshire", "Denbighshire County Council", "Sir Ddinbych", COUNCIL}


def correct_one_council(study: Path, level: str = "3") -> None:
    """Edit one council's answers in one file, as a council's corrections would."""
    path = study / "responses" / "digital_ict.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["council"].isin(COUNCIL_SPELLINGS), "lvl_open_data"] = level
    frame.to_csv(path, index=False)


def ratio(pair: list[Timing]) -> str:
    """The second timing over the first (rerun over national run), to two places."""
    return f"{pair[1].seconds / pair[0].seconds:.2f}"


def recorded_durations(out: Path) -> list[Timing]:
    """The last national run's and council rerun's durations as the registry records them (`maturity status`).

    A run is recorded from its first task to its commit: the CLI's imports and Prefect's start are not in it.
    """
    from maturity.settings import registry_url
    from warehouse.registry import recent_runs

    runs = recent_runs(registry_url(out), 2).iloc[::-1]
    return [
        Timing(
            f"{row.flow} (as recorded in the registry)", (row.finished_at - row.started_at).total_seconds()
        )
        for row in runs.itertuples()
    ]


def time_warm(study: Path, out: Path, repeats: int) -> list[Timing]:
    """Best-of-N wall times of the flows in one process (as the CLI runs them), after a warm-up run."""
    from flows.national import national_run
    from flows.rerun import council_rerun
    from flows.runners import run_with_task_runner

    run_with_task_runner(national_run, inputs=study, out=out)
    national, rerun = [], []
    for repeat in range(repeats):
        started = time.perf_counter()
        run_with_task_runner(national_run, inputs=study, out=out)
        national.append(time.perf_counter() - started)
        # A real correction each time: the council's file differs from the one the national run loaded.
        correct_one_council(study, level="2" if repeat % 2 == 0 else "3")
        started = time.perf_counter()
        summary = run_with_task_runner(council_rerun, council=COUNCIL, inputs=study, out=out)
        rerun.append(time.perf_counter() - started)
        if "responses:digital_ict" not in set(summary.accounting["dataset"]):
            raise RuntimeError("the rerun did not redo the corrected file: the benchmark measures nothing")
    return [
        Timing("national run (warm, best)", min(national)),
        Timing("council rerun (warm, best)", min(rerun)),
    ]


def run(scale: int, repeats: int) -> str:
    """Measure and return a markdown section with the figures."""
    with tempfile.TemporaryDirectory(prefix="maturity-bench-") as folder:
        root = Path(folder)
        study = write_demo_study(root / "study", scale=scale)
        cold_out = root / "cold"
        cold = [time_cli(["run", "--inputs", str(study), "--out", str(cold_out)])]
        correct_one_council(study)
        cold.append(time_cli(["rerun", COUNCIL, "--inputs", str(study), "--out", str(cold_out)]))
        recorded = recorded_durations(cold_out)
        warm = time_warm(study, root / "warm", repeats)
    rows = [*cold, *recorded, *warm]
    lines = [
        f"### Council rerun vs national run, demo scale {scale}",
        "",
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{time.strftime('%Y-%m-%d')} · `python -m benchmarks rerun --scale {scale} --repeats {repeats}`",
        "",
        "| what | wall time (s) | peak memory (MB) |",
        "| --- | ---: | ---: |",
        *[
            f"| {t.what} | {t.seconds:.2f} | {'' if t.peak_mb is None else f'{t.peak_mb:.0f}'} |"
            for t in rows
        ],
        "",
        f"Rerun / national, cold CLI: {ratio(cold)}; as the registry records them: {ratio(recorded)}; "
        f"warm: {ratio(warm)}.",
        "",
    ]
    return "\n".join(lines)
