"""Run bookkeeping: open a run (registry row, locked output version) and close it (atomic commit)."""

from __future__ import annotations

import functools
import inspect
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from prefect.states import Failed

from maturity.settings import code_version, registry_url
from operations.failures import advise, failure_line
from tasks.contracts import ValidatedTable
from tasks.sources import file_sha256
from tasks.validate import write_quality_record
from warehouse import registry
from warehouse.versions import (
    CURRENT_LINK,
    QUALITY_DIR,
    OutputLayoutError,
    abandon_version,
    begin_version,
    check_out_links,
    commit_version,
    current_version,
    inside,
    lock_holder,
    written_files,
)

DEFAULT_OUT = Path("output")
INTERRUPTED_MESSAGE = "interrupted: the process stopped before the run finished (its outputs were discarded)"


@dataclass(frozen=True)
class RunContext:
    """Where one run writes: its id, OUT, its uncommitted version and the registry."""

    run_id: str
    flow: str
    out: Path
    version: Path
    registry_url: str

    @property
    def warehouse(self) -> Path:
        return self.version / "warehouse"

    @property
    def quality_dir(self) -> Path:
        return inside(self.out, QUALITY_DIR, self.run_id)


def absolute(path: Path | None) -> Path | None:
    """A path made absolute once, at a flow's entry, against the folder the run started in.

    A deployment's default `out: output` is relative to the folder `prefect deploy` ran in (its pull step
    moves the run there); kept relative, it would break later steps that need an absolute one
    (Great Expectations' Data Docs refused it, so the weekly run failed with its shipped defaults).
    """
    return None if path is None else Path(path).absolute()


def new_run_id(prefect_flow_run_id: str | None) -> str:
    """A run id that sorts by start time and names the Prefect flow run it belongs to."""
    suffix = (prefect_flow_run_id or uuid.uuid4().hex)[:8]
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{suffix}"


def open_run(
    out: Path,
    flow: str,
    parameters: dict[str, Any],
    prefect_flow_run_id: str | None,
    council: str | None = None,
    prefect_flow_run_name: str | None = None,
) -> RunContext:
    """Record the run as started, then lock OUT and start its output version."""
    run_id = new_run_id(prefect_flow_run_id)
    out.mkdir(parents=True, exist_ok=True)
    check_out_links(out)  # before the registry: OUT/registry.sqlite may be a link too
    url = registry_url(out)
    registry.start_run(
        url,
        run_id,
        flow,
        parameters,
        code_version=code_version(),
        council=council,
        prefect_flow_run_id=prefect_flow_run_id,
        prefect_flow_run_name=prefect_flow_run_name,
    )
    version = begin_version(out, run_id)
    # This run holds OUT's lock, so any other run still marked running was killed before it could say so.
    registry.mark_interrupted(url, run_id, INTERRUPTED_MESSAGE)
    return RunContext(run_id, flow, out, version, url)


def record_inputs(run: RunContext, wave: str, tables: list[ValidatedTable]) -> pd.DataFrame:
    """Save the quarantine and accounting under OUT/quality/<run_id>/ and in the registry."""
    accounting = write_quality_record(tables, run.quality_dir)
    quarantine = pd.concat([t.quarantine for t in tables], ignore_index=True)
    registry.record_inputs(run.registry_url, run.run_id, wave, accounting, quarantine)
    return accounting


def close_run(run: RunContext) -> list[registry.OutputFile]:
    """Commit the run's version atomically and record the files it wrote and its warehouse's checksums."""
    outputs = [
        registry.OutputFile(str(path.relative_to(run.version)), file_sha256(path), path.stat().st_size)
        for path in written_files(run.out, run.version)
    ]
    warehouse = warehouse_checksums(run.version)
    commit_version(run.out, run.version)
    registry.finish_run(run.registry_url, run.run_id, outputs, warehouse)
    return outputs


def warehouse_checksums(version: Path) -> dict[str, str]:
    """Every warehouse file of a version (path relative to it) with its sha256."""
    files = sorted(path for path in (version / "warehouse").rglob("*") if path.is_file())
    return {str(path.relative_to(version)): file_sha256(path) for path in files}


def find_damaged_warehouse_files(recorded: dict[str, str], found: dict[str, str]) -> dict[str, str]:
    """Warehouse files that differ from what the committing run recorded: path -> what is wrong."""
    problems = {path: "is missing" for path in recorded.keys() - found.keys()}
    problems |= {path: "was not written by any run" for path in found.keys() - recorded.keys()}
    problems |= {
        path: "differs from its recorded checksum (damaged or edited since)"
        for path in recorded.keys() & found.keys()
        if recorded[path] != found[path]
    }
    return dict(sorted(problems.items()))


def check_carried_warehouse(run: RunContext, rebuilt_wave: str | None = None) -> None:
    """Stop before a damaged warehouse file is carried into a new version (or read by a rerun).

    The files are checked against the checksums the run that committed the current version recorded.
    A national run rebuilds its own wave, so only other waves' files matter to it (rebuilt_wave).
    """
    committed = current_version(run.out)  # still the version this run's was cloned from
    recorded = registry.recorded_warehouse_checksums(run.registry_url, committed.name) if committed else None
    if recorded is None:
        return  # nothing committed yet, or by a version of the pipeline that did not record checksums
    rebuilt = f"/wave={rebuilt_wave}/" if rebuilt_wave else None
    found = warehouse_checksums(run.version)
    problems = {
        path: problem
        for path, problem in find_damaged_warehouse_files(recorded, found).items()
        if rebuilt is None or rebuilt not in path
    }
    if problems:
        path, problem = next(iter(problems.items()))
        wave = path.split("/wave=", 1)[1].split("/", 1)[0] if "/wave=" in path else "?"
        raise OutputLayoutError(
            f"{run.out / CURRENT_LINK / path} {problem}"
            + (f", and {len(problems) - 1} other warehouse file(s) too" if len(problems) > 1 else "")
            + ". "
            + advise(
                f"Run `maturity run --wave {wave}` with that wave's study folder to rebuild it nationally.",
                f"Run the national-run/weekly deployment for wave {wave} to rebuild it nationally.",
            )
        )


def abandon_own_run(out: Path, message: str) -> None:
    """Drop the half-built version of the run this process holds OUT for, and mark it failed."""
    pid, run_id = lock_holder(out)
    if pid == os.getpid() and run_id:
        try:
            abandon_version(out, run_id)
        finally:
            registry.fail_run(registry_url(out), run_id, message)


def fail_run(
    out: Path,
    prefect_flow_run_id: str,
    message: str,
    flow: str = "",
    prefect_flow_run_name: str | None = None,
) -> None:
    """Mark the flow run's registry entry failed and drop its half-built version.

    A run that failed before it opened (an unknown council, a missing study) is recorded too, with its
    reason, when OUT exists: the registry then lists every run Prefect does.
    """
    url = registry_url(out)
    run_id = registry.run_id_for_flow_run(url, prefect_flow_run_id) if out.is_dir() else None
    if run_id is None:
        if out.is_dir() and flow:
            run_id = new_run_id(prefect_flow_run_id)
            registry.start_run(
                url,
                run_id,
                flow,
                {},
                code_version=code_version(),
                prefect_flow_run_id=prefect_flow_run_id,
                prefect_flow_run_name=prefect_flow_run_name,
            )
            registry.fail_run(url, run_id, message)
        return
    try:
        abandon_version(out, run_id)  # first: the half-built version goes even if the registry fails
    finally:
        registry.fail_run(url, run_id, message)


@task(name="open-run", cache_policy=NONE)
def open_run_task(
    out: Path,
    flow: str,
    parameters: dict[str, Any],
    prefect_flow_run_id: str | None,
    council: str | None = None,
) -> RunContext:
    """Prefect wrapper: open a run, recorded under the name Prefect's UI shows for its flow run."""
    from prefect.runtime import flow_run

    return open_run(out, flow, parameters, prefect_flow_run_id, council, flow_run.get_name())


@task(name="check-warehouse", cache_policy=NONE)
def check_carried_warehouse_task(run: RunContext, rebuilt_wave: str | None = None) -> None:
    """Prefect wrapper: check the warehouse carried into this run's version."""
    check_carried_warehouse(run, rebuilt_wave)


@task(name="record-inputs", cache_policy=NONE)
def record_inputs_task(run: RunContext, wave: str, tables: list[ValidatedTable]) -> pd.DataFrame:
    """Prefect wrapper: record the row accounting and quarantine."""
    return record_inputs(run, wave, tables)


@task(name="commit-run", cache_policy=NONE)
def close_run_task(run: RunContext) -> list[registry.OutputFile]:
    """Prefect wrapper: commit the run's outputs."""
    return close_run(run)


def mark_flow_run_failed(flow: Any, flow_run: Any, state: Any) -> None:
    """Flow hook: a failed or crashed run is marked failed and its half-built version removed."""
    out = Path(flow_run.parameters.get("out") or DEFAULT_OUT).absolute()
    fail_run(out, str(flow_run.id), state.message or state.name, flow.name, flow_run.name)


def fails_in_one_line(function: Callable[..., Any]) -> Callable[..., Any]:
    """Make a flow end, on an error, in a Failed state whose message is the CLI's one line for it.

    Prefect's own message is "Flow run encountered an exception: ..." with whatever the error holds; the
    person who started a deployment reads the state message in the UI, so it says what went wrong and what
    to do. The error itself stays the state's data: calling the flow still raises it, and the traceback
    is logged.
    """

    # The flow's parameters are read from this signature; its annotations are resolved here, in the
    # flow's own module, as they name types that module imports.
    signature = inspect.signature(function, eval_str=True)

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as error:
            get_run_logger().debug("The run failed:", exc_info=error)
            out = signature.bind_partial(*args, **kwargs).arguments.get("out")  # named or positional
            return Failed(message=failure_line(error, Path(out) if out else None), data=error)

    run.__signature__ = signature  # type: ignore[attr-defined]
    return run
