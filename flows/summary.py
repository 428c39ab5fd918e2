"""What a run tells its caller: accounting, and where its outputs are now that they are committed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tasks.runs import RunContext


@dataclass
class RunSummary:
    """What a run read, set aside and wrote (paths as readers see them, under OUT)."""

    run_id: str
    wave: str
    accounting: pd.DataFrame
    quality_dir: Path
    reports: list[Path]
    open_data: list[Path]


def summarise_run(
    run: RunContext, wave: str, accounting: pd.DataFrame, reports: list[Path], open_data: list[Path]
) -> RunSummary:
    """Summarise a committed run, pointing at its outputs through OUT's stable links."""

    def published(path: Path) -> Path:
        return run.out / path.relative_to(run.version)

    return RunSummary(
        run.run_id,
        wave,
        accounting,
        run.quality_dir,
        [published(p) for p in reports],
        [published(p) for p in open_data],
    )
