"""Two waves in one OUT: the second wave's national run and a council rerun of it, against the first's.

Each round starts from an empty OUT and times cold CLI processes one after another: the 2018 national
run, the 2021 national run into the same OUT (it also computes and publishes the change since 2018), and
a 2021 rerun of one council after a one-file correction. Rounds alternate on one machine, so the ratios
hold where the seconds vary with the machine's load.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
from pathlib import Path

from benchmarks.processes import Timing, time_cli
from benchmarks.rerun import correct_one_council
from maturity.demo import write_demo_study

COUNCIL = "W06000004"


def time_round(earlier: Path, later: Path, folder: Path) -> list[Timing]:
    """One round: both waves' national runs into a fresh OUT, then a later-wave council rerun."""
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    study = folder / "later"
    shutil.rmtree(study, ignore_errors=True)
    shutil.copytree(later, study)
    timings = [
        time_cli(["run", "--inputs", str(earlier), "--out", str(out), "--quiet"]),
        time_cli(["run", "--inputs", str(study), "--out", str(out), "--quiet"]),
    ]
    correct_one_council(study)
    timings.append(time_cli(["rerun", COUNCIL, "--inputs", str(study), "--out", str(out), "--quiet"]))
    return timings


def run(rounds: int) -> str:
    """Markdown table of every round and the medians, with the load average before and after."""
    with tempfile.TemporaryDirectory(prefix="maturity-waves-") as name:
        folder = Path(name)
        earlier = write_demo_study(folder / "study-2018")
        later = write_demo_study(folder / "study-2021", wave="2021")
        load_before = os.getloadavg()[0]
        results = [time_round(earlier, later, folder) for _ in range(rounds)]
        load_after = os.getloadavg()[0]
    lines = [
        "| round | 2018 run (s) | 2021 run (s) | 2021 rerun (s) | 2021 run / 2018 run | rerun / 2021 run |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for number, (first, second, rerun) in enumerate(results, start=1):
        lines.append(
            f"| {number} | {first.seconds:.1f} | {second.seconds:.1f} | {rerun.seconds:.1f} | "
            f"{second.seconds / first.seconds:.2f} | {rerun.seconds / second.seconds:.2f} |"
        )
    medians = [statistics.median(r[i].seconds for r in results) for i in range(3)]
    lines.append(
        f"| median | {medians[0]:.1f} | {medians[1]:.1f} | {medians[2]:.1f} | "
        f"{medians[1] / medians[0]:.2f} | {medians[2] / medians[1]:.2f} |"
    )
    lines.append(f"\nLoad average (1 min): {load_before:.2f} before, {load_after:.2f} after.")
    return "\n".join(lines)
