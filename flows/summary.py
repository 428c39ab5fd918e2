"""What a run tells its caller: accounting, and where its outputs are now that they are committed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tasks.artifacts import (
    RunArtifacts,
    build_run_artifacts,
    outputs_section,
    read_quarantine,
    run_links,
    run_summary_markdown,
)
from tasks.runs import RunContext
from warehouse.versions import VERSIONS_DIR


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


def run_artifacts(flow: str, summary: RunSummary) -> RunArtifacts:
    """What a national run or council rerun shows in Prefect: summary, maturity table and links."""
    open_data_folder = summary.open_data[0].parent if summary.open_data else None
    out = summary.quality_dir.parents[1]  # quality_dir is OUT/quality/<run_id>
    outputs = outputs_section(out, summary.reports, summary.open_data)
    markdown = run_summary_markdown(
        f"{flow} {summary.run_id} · wave {summary.wave}",
        summary.accounting,
        read_quarantine(summary.quality_dir),
        summary.quality_dir,
        outputs,
    )
    version = out / VERSIONS_DIR / summary.run_id  # the run's own files, not `current`'s

    def in_version(path: Path) -> Path:
        return version / path.relative_to(out)

    release_folder = in_version(open_data_folder) if open_data_folder is not None else None
    links = run_links(flow, summary.quality_dir, [in_version(p) for p in summary.reports], release_folder)
    return build_run_artifacts(flow, markdown, release_folder, links)
