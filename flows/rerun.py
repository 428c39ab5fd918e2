"""A council rerun: re-extract, re-validate and replace one council; refresh national figures and reports."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from pydantic import SecretStr

from flows.pipeline import Options, Scope, Target, run_pipeline, task_steps
from flows.summary import RunSummary, run_artifacts, summarise_run
from maturity.councils import UnknownCouncilError, resolve_council
from maturity.settings import registry_url
from operations.failures import advise
from tasks.artifacts import create_artifacts_task
from tasks.changes import plan_council_rerun_task
from tasks.contracts import DatasetError, Study
from tasks.runs import (
    DEFAULT_OUT,
    absolute,
    check_carried_warehouse_task,
    close_run_task,
    fails_in_one_line,
    mark_flow_run_failed,
    open_run_task,
)
from tasks.study import read_study
from warehouse import registry
from warehouse.store import table_dir
from warehouse.versions import DEMO_STUDY_DIR, current_version, inside


def resolve_rerun_council(council: str) -> str:
    """The GSS code to rerun; an unknown name (or anything like a path) is a clear error."""
    try:
        return resolve_council(council)
    except UnknownCouncilError as error:
        raise DatasetError(str(error)) from None


def locate_rerun_study(inputs: Path | None, out: Path, source: SecretStr | None) -> Study:
    """The study to rerun from: --inputs (and --source), else what the last national run into OUT used."""
    if inputs is None:
        last = registry.last_completed_parameters(registry_url(out), "national-run")
        if last is None:
            raise DatasetError(
                f"no completed national run in {out} to rerun a council against. "
                + advise(
                    "Run `maturity run` first, or give --inputs.",
                    "Run the national-run/weekly deployment first, or give the inputs parameter.",
                )
            )
        if last.get("source") and source is None:
            raise DatasetError(
                "the last national run read its data from a database, whose address is not stored. "
                + advise("Give --inputs and --source again.", "Give the inputs and source parameters again.")
            )
        inputs = Path(last["inputs"]) if last.get("inputs") else inside(out, DEMO_STUDY_DIR)
    study = read_study(inputs, None, source.get_secret_value() if source else None)
    current = current_version(out)
    if current is None or not table_dir(current / "warehouse", "invitations", study.wave).is_dir():
        raise DatasetError(
            f"{out} holds no national run for wave {study.wave}; a rerun replaces one council within one. "
            + advise(
                "Run `maturity run` for that wave first.",
                "Run the national-run/weekly deployment for that wave first.",
            )
        )
    return study


@task(name="resolve-council", cache_policy=NONE)
def resolve_rerun_council_task(council: str) -> str:
    """Prefect wrapper: resolve the council to rerun."""
    return resolve_rerun_council(council)


@task(name="locate-study", cache_policy=NONE)
def locate_rerun_study_task(inputs: Path | None, out: Path, source: SecretStr | None) -> Study:
    """Prefect wrapper: find the study for a rerun."""
    return locate_rerun_study(inputs, out, source)


@flow(name="council-rerun", on_failure=[mark_flow_run_failed], on_crashed=[mark_flow_run_failed])
@fails_in_one_line
def council_rerun(
    council: str,
    inputs: Path | None = None,
    out: Path = DEFAULT_OUT,
    source: SecretStr | None = None,
    report_status: str = "draft",
    report_pdf: bool = False,
) -> RunSummary:
    """Rerun one council from its corrected inputs and refresh the national figures that depend on it."""
    gss_code = resolve_rerun_council_task(council)
    inputs, out = absolute(inputs), absolute(out)
    parameters = {"council": council, "inputs": inputs, "out": out, "source": source}
    run = open_run_task(out, "council-rerun", parameters, str(flow_run.id), gss_code)
    study = locate_rerun_study_task(inputs, out, source)
    check_carried_warehouse_task(run)  # the rerun reads and keeps other councils' stored rows
    plan = plan_council_rerun_task(study, run.warehouse, gss_code)
    result = run_pipeline(
        task_steps(run),
        study,
        Target(run.version, run.quality_dir),
        Scope(plan.redo, gss_code, plan.keep),
        Options(report_status, report_pdf),
    )
    summary = summarise_run(run, study.wave, result.accounting, result.reports, result.open_data)
    create_artifacts_task(run_artifacts("council-rerun", summary))
    close_run_task(run)
    return summary
