"""Publish the open-data release from the warehouse (no re-extract), and copy it to a target if asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run

from operations.failures import advise
from operations.files import served_url
from tasks.artifacts import (
    Link,
    RunArtifacts,
    artifact_key,
    build_run_artifacts,
    create_artifacts_task,
    publish_summary_markdown,
)
from tasks.contracts import DatasetError
from tasks.distribute import TargetCopy, check_target_history_task, copy_release_to_target_task
from tasks.ledger import ledger_checksums
from tasks.publish import build_release_task
from tasks.release import summarise_changes
from tasks.runs import (
    DEFAULT_OUT,
    absolute,
    check_carried_warehouse_task,
    close_run_task,
    fails_in_one_line,
    mark_flow_run_failed,
    open_run_task,
)
from tasks.score import score_national_task
from tasks.wave_change import score_change_task
from warehouse.versions import VERSIONS_DIR, current_version

FLOW_NAME = "open-data-publish"
# A table every national run stores for its wave: its wave folders say which waves can be published.
WAVE_TABLE = "response_rates"


@dataclass
class PublishSummary:
    """What a publish did: the release (as readers see it under OUT), its changes and any copy."""

    run_id: str
    wave: str
    version: str
    changed: bool
    changes: list[str]
    folder: Path
    target: TargetCopy | None


def resolve_publish_wave(out: Path, wave: str | None) -> str:
    """The wave to publish: the one asked for, else the latest the warehouse in OUT holds."""
    current = current_version(out)
    folder = current / "warehouse" / WAVE_TABLE if current else None
    waves = sorted(p.name.split("=", 1)[1] for p in folder.glob("wave=*")) if folder else []
    if not waves:
        raise DatasetError(
            f"{out} holds no national run to publish. "
            + advise(
                f"Run `maturity run --out {out}` first.", "Run the national-run/weekly deployment first."
            )
        )
    if wave is None:
        return waves[-1]
    if wave not in waves:
        raise DatasetError(f"{out} holds no wave {wave}; it holds {', '.join(waves)}.")
    return wave


def publish_artifacts(summary: PublishSummary) -> RunArtifacts:
    """What a publish shows in Prefect: the release summary, the maturity table and links to the release."""
    title = f"{FLOW_NAME} {summary.run_id} · wave {summary.wave} · release {summary.version}"
    target = summary.target.url if summary.target else None
    markdown = publish_summary_markdown(title, summary.folder, summary.changed, summary.changes, target)
    key = artifact_key(FLOW_NAME, "open_data")
    out = summary.folder.parents[1]  # the folder is OUT/open-data/<wave>
    in_version = out / VERSIONS_DIR / summary.run_id / summary.folder.relative_to(out)
    served = served_url(in_version)  # None without `maturity serve`: the summary gives the path as text
    links = [Link(key, served, f"Open-data release {summary.version}")] if served else []
    if target and target.startswith(("http://", "https://")):  # a browser opens neither s3:// nor file://
        links.append(Link(f"{key}-target", target, f"Release {summary.version} at its target"))
    return build_run_artifacts(FLOW_NAME, markdown, in_version, links)


@task(name="resolve-wave", cache_policy=NONE)
def resolve_publish_wave_task(out: Path, wave: str | None) -> str:
    """Prefect wrapper: find the wave to publish."""
    return resolve_publish_wave(out, wave)


@flow(name=FLOW_NAME, on_failure=[mark_flow_run_failed], on_crashed=[mark_flow_run_failed])
@fails_in_one_line
def publish_release(
    out: Path = DEFAULT_OUT, wave: str | None = None, to: str | None = None, release_date: str | None = None
) -> PublishSummary:
    """Build the wave's open-data release into OUT/open-data/<wave>/ and copy it to `to` if given.

    The copy happens before the local commit, so a failed upload leaves OUT as it was.
    """
    out = absolute(out)
    wave = resolve_publish_wave_task(out, wave)
    parameters = {"out": out, "wave": wave, "to": to, "release_date": release_date}
    run = open_run_task(out, FLOW_NAME, parameters, str(flow_run.id))
    check_carried_warehouse_task(run)  # a damaged partition must never reach a release
    scores = score_change_task(
        run.warehouse, score_national_task(run.warehouse, wave)
    )  # since the earlier wave
    if to:
        check_target_history_task(to, wave, ledger_checksums(run.version, wave))
    release = build_release_task(scores, run.version, release_date)
    target = copy_release_to_target_task(release.folder, release.version, to) if to else None
    summary = PublishSummary(
        run.run_id,
        wave,
        release.version,
        release.changed,
        summarise_changes(release.changes),
        out / release.folder.relative_to(run.version),
        target,
    )
    create_artifacts_task(publish_artifacts(summary))
    close_run_task(run)
    return summary
