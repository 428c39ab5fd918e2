"""Benchmark: a council rerun against a national run, cold (CLI processes) and warm (one process)."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from maturity.demo import write_demo_study

COUNCIL = "W06000004"
COUNCIL_SPELLINGS = {"Denbighshire", "Denbighshire County Council", "Sir Ddinbych", COUNCIL}


@dataclass
class Timing:
    what: str
    seconds: float
    peak_mb: float | None = None


def correct_one_council(study: Path, level: str = "3") -> None:
    """Edit one council's answers in one file, as a council's corrections would."""
    path = study / "responses" / "digital_ict.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[frame["council"].isin(COUNCIL_SPELLINGS), "lvl_open_data"] = level
    frame.to_csv(path, index=False)


def time_cli(args: list[str]) -> Timing:
    """Wall time and peak memory of one `maturity` process (temporary Prefect server included)."""
    command = [str(Path(sys.executable).parent / "maturity"), *args]
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return Timing(" ".join(["maturity", *args[:2]]), seconds, max(peak, before) / 1024)


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
        warm = time_warm(study, root / "warm", repeats)
    rows = [*cold, *warm]
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
        f"Rerun / national, cold: {cold[1].seconds / cold[0].seconds:.2f}; "
        f"warm: {warm[1].seconds / warm[0].seconds:.2f}.",
        "",
    ]
    return "\n".join(lines)
