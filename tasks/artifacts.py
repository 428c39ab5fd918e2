"""Prefect artifacts for every run: a markdown summary, a table of council maturity levels, and links.

The content is built by plain functions (unit-tested without a server); one thin task sends it to Prefect.
Artifacts are for the team running the study (the Prefect UI), not for publication.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NONE

from maturity.settings import ALL_GROUPS, load_orchestration_config, load_settings
from operations.files import served_url

PUBLISHED_LEVELS = "maturity_levels.parquet"  # in a release folder (tasks/publish.py writes it)
PUBLISHED_LEVEL_COLUMNS = ["gss_code", "characteristic", "recipient_group", "level", "status"]
NOT_AVAILABLE = "\u2013"  # an en dash: a level that could not be given (no valid answers)
QUARANTINE_FILE = "quarantine.parquet"
DATA_DOCS_INDEX = Path("data_docs") / "index.html"


@dataclass(frozen=True)
class Link:
    """A link artifact: its key, where it points and its text."""

    key: str
    url: str
    text: str


@dataclass
class RunArtifacts:
    """Everything one run shows in Prefect: a markdown summary, a maturity table and links."""

    summary_key: str
    summary: str
    table_key: str
    table: list[dict[str, Any]]
    links: list[Link] = field(default_factory=list)


def artifact_key(flow: str, name: str) -> str:
    """An artifact key for a flow: the flow's name, then the configured key, e.g. national-run-run-summary."""
    return f"{flow}-{load_orchestration_config().artifacts[name]}".lower()


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table, with pipes in cells escaped."""
    if frame.empty:
        return "_none_"

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(c) for c in frame.columns) + " |",
        "| " + " | ".join("---" for _ in frame.columns) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def quality_failures(quarantine: pd.DataFrame) -> pd.DataFrame:
    """Rows quarantined per dataset, column and reason (one reason per failed expectation)."""
    columns = ["dataset", "column", "reason"]
    if quarantine.empty:
        return pd.DataFrame(columns=[*columns, "rows"])
    counts = quarantine.groupby(columns, sort=True)["source_row"].nunique().reset_index(name="rows")
    return counts.sort_values(["rows", *columns], ascending=[False, True, True, True], ignore_index=True)


def accounting_table(accounting: pd.DataFrame) -> pd.DataFrame:
    """Row accounting per input, with a total row."""
    counts = ["rows_read", "rows_loaded", "rows_quarantined"]
    table = accounting[["source_file", *counts]].copy()
    total = pd.DataFrame([{"source_file": "**total**", **{c: int(table[c].sum()) for c in counts}}])
    return pd.concat([table, total], ignore_index=True)


def outputs_section(out: Path, reports: list[Path], open_data: list[Path]) -> str:
    """Markdown lines saying how many report and open-data files were written and where."""
    lines = []
    for label, paths in (("Reports", reports), ("Open data", open_data)):
        folder = f" in `{paths[0].parent}`" if paths else ""
        lines.append(f"- {label}: {len(paths)} files{folder}")
    lines.append(f"- Warehouse: `{out / 'warehouse'}`")
    return "\n".join(lines)


def run_summary_markdown(
    title: str,
    accounting: pd.DataFrame,
    quarantine: pd.DataFrame,
    quality_dir: Path,
    outputs: str,
) -> str:
    """The run summary: row accounting per input, quality failures per expectation, and outputs."""
    failures = quality_failures(quarantine)
    quarantined = int(accounting["rows_quarantined"].sum()) if len(accounting) else 0
    return "\n\n".join(
        [
            f"# {title}",
            "## Row accounting",
            "Every row read is either loaded or quarantined.",
            markdown_table(accounting_table(accounting)),
            "## Quality failures",
            f"{quarantined} row(s) quarantined, by failed check; "
            f"details in `{quality_dir / 'quarantine.csv'}`.",
            markdown_table(failures),
            "## Outputs",
            outputs,
        ]
    )


def maturity_table(published_levels: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per council: its name and its published level for each characteristic (both groups).

    published_levels: the release's maturity_levels table, disclosure control applied. Prefect's database
    is not a restricted file, so a level the release withholds shows the release's status mark instead.
    """
    settings = load_settings()
    combined = published_levels[published_levels["recipient_group"] == ALL_GROUPS]
    shown = {(r.gss_code, r.characteristic): _shown_level(r.level, r.status) for r in combined.itertuples()}
    rows = []
    for council in settings.councils:
        row: dict[str, Any] = {"gss_code": council.gss_code, "council": council.name_en}
        for characteristic in settings.characteristics:
            row[characteristic.id] = shown.get((council.gss_code, characteristic.id), NOT_AVAILABLE)
        rows.append(row)
    return rows


def _shown_level(level: Any, status: Any) -> int | str:
    """A published level as a whole number; a withheld one as its status mark; none as a dash."""
    if isinstance(status, str) and status:
        return status
    return NOT_AVAILABLE if level is None or pd.isna(level) else int(level)


def read_published_levels(release_folder: Path | None) -> pd.DataFrame:
    """The maturity levels as the run's open-data release publishes them (none: no release)."""
    path = release_folder / PUBLISHED_LEVELS if release_folder is not None else None
    if path is None or not path.is_file():
        return pd.DataFrame(columns=PUBLISHED_LEVEL_COLUMNS)
    return pd.read_parquet(path, columns=PUBLISHED_LEVEL_COLUMNS)


def run_links(flow: str, quality_dir: Path, reports: list[Path], open_data_folder: Path | None) -> list[Link]:
    """Links to the national report, the Data Docs and the open data, where `maturity serve` serves them.

    Give the paths in the run's own version (OUT/.versions/<run_id>/...), so an older run's link never
    shows a newer run's files. Without `maturity serve` nothing serves them and there are no links: a
    browser will not open a file:// link from the Prefect UI, and the summary gives the paths as text.
    """
    national = [p for p in reports if p.name.startswith("national.en.")]
    docs = quality_dir / DATA_DOCS_INDEX
    candidates = [
        ("reports", national[0] if national else None, "National report (English)"),
        ("data_docs", docs if docs.is_file() else None, "Great Expectations Data Docs"),
        ("open_data", open_data_folder, "Open-data files"),
    ]
    links = []
    for name, path, text in candidates:
        url = served_url(path) if path is not None else None
        if url is not None:
            links.append(Link(artifact_key(flow, name), url, text))
    return links


def read_quarantine(quality_dir: Path) -> pd.DataFrame:
    """The run's quarantine as written under OUT/quality/<run_id>/ (empty if the run read no inputs)."""
    path = quality_dir / QUARANTINE_FILE
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=["source_row"])


def publish_summary_markdown(
    title: str, folder: Path, changed: bool, changes: list[str], target: str | None
) -> str:
    """The summary of an open-data publish: the release, what changed, and where it was copied."""
    state = "a new release" if changed else "unchanged: nothing rewritten"
    lines = [f"- Release folder: `{folder}` ({state})"]
    lines += [f"- Changes: {line}" for line in changes]
    lines.append(f"- Copied to: {target}" if target else "- Not copied to a target (no --to)")
    return (
        "\n\n".join(
            [f"# {title}", "## Row accounting", "No inputs read: published from the warehouse.", "## Outputs"]
        )
        + "\n\n"
        + "\n".join(lines)
    )


def build_run_artifacts(
    flow: str, summary: str, release_folder: Path | None, links: list[Link]
) -> RunArtifacts:
    """Bundle a run's artifacts under the flow's keys (the table from its release in its version)."""
    return RunArtifacts(
        summary_key=artifact_key(flow, "summary"),
        summary=summary,
        table_key=artifact_key(flow, "maturity"),
        table=maturity_table(read_published_levels(release_folder)),
        links=links,
    )


@task(name="create-artifacts", cache_policy=NONE)
def create_artifacts_task(artifacts: RunArtifacts) -> None:
    """Prefect wrapper: send the run's summary, maturity table and links to Prefect."""
    create_markdown_artifact(artifacts.summary, key=artifacts.summary_key, description="Run summary")
    create_table_artifact(artifacts.table, key=artifacts.table_key, description="Council maturity levels")
    for link in artifacts.links:
        create_link_artifact(link.url, link_text=link.text, key=link.key)
