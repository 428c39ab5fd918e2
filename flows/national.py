"""The national run: extract -> validate -> load -> score -> publish, for every council."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from pydantic import SecretStr

from flows.runners import parallel_workers
from flows.summary import RunSummary, run_artifacts, summarise_run
from maturity.demo import write_demo_study
from tasks.artifacts import create_artifacts_task
from tasks.contracts import Study, read_study
from tasks.extract import extract_dataset_task, study_datasets
from tasks.load import load_warehouse_task
from tasks.publish import open_answer_tables_task, publish_open_data_task
from tasks.report import (
    finish_reports_task,
    plan_reports_task,
    render_report_task,
    write_quote_candidates_task,
)
from tasks.runs import (
    DEFAULT_OUT,
    absolute,
    check_carried_warehouse_task,
    close_run_task,
    fails_in_one_line,
    mark_flow_run_failed,
    open_run_task,
    record_inputs_task,
)
from tasks.score import score_councils_task, score_national_task
from tasks.validate import reconcile_response_counts_task, validate_table_task

DEMO_STUDY_FOLDER = "demo-study"


@task(name="read-study", cache_policy=NONE)
def read_study_task(
    inputs: Path | None, out: Path, wave: str | None, source: SecretStr | None = None
) -> Study:
    """Read and check study.yaml; with no inputs, write the bundled demo study under OUT and use it."""
    if inputs is None:
        inputs = write_demo_study(out / DEMO_STUDY_FOLDER)
        get_run_logger().info("No inputs given: using the bundled demo study, written to %s", inputs)
    return read_study(inputs, wave, source.get_secret_value() if source else None)


@flow(name="national-run", on_failure=[mark_flow_run_failed], on_crashed=[mark_flow_run_failed])
@fails_in_one_line
def national_run(
    inputs: Path | None = None,
    out: Path = DEFAULT_OUT,
    wave: str | None = None,
    source: SecretStr | None = None,
    report_status: str = "draft",
    report_pdf: bool = False,
) -> RunSummary:
    """Run the national study for every council and publish reports and open data.

    source: an SQLAlchemy URL to read the data from instead of the study folder's files (a secret,
    as it may hold a password: Prefect records it as ***** when it is passed as a SecretStr).
    report_status: "draft" (watermarked for factual accuracy check) or "final"; report_pdf: also print PDFs.
    """
    inputs, out = absolute(inputs), absolute(out)
    parameters = {"inputs": inputs, "out": out, "wave": wave, "source": source}
    run = open_run_task(out, "national-run", parameters, str(flow_run.id))
    study = read_study_task(inputs, out, wave, source)
    check_carried_warehouse_task(run, study.wave)  # this wave is rebuilt; other waves' files are carried
    extracting = [extract_dataset_task.submit(study, dataset) for dataset in study_datasets()]
    extracted = [future.result() for future in extracting]
    # Validation stays in the flow's process whatever the task runner: GX runs under one lock and was
    # imported while Prefect started; a worker process would pay that import (about 5 s) again.
    validated = reconcile_response_counts_task([validate_table_task(t, study) for t in extracted], study)
    accounting = record_inputs_task(run, study.wave, validated)
    load_warehouse_task(validated, run.warehouse, study.wave)
    score_councils_task(run.warehouse, study.wave)
    scores = score_national_task(run.warehouse, study.wave)
    write_quote_candidates_task(scores, study, run.quality_dir)  # restricted: for the auditor to approve
    answers = open_answer_tables_task(scores, run.version)
    report_inputs, to_render = plan_reports_task(
        scores, study, run.version, None, report_status, parallel_workers(), answers
    )
    rendered = render_report_task.map(to_render, unmapped(report_inputs)).result()
    reports = finish_reports_task(rendered, report_pdf)
    open_data = publish_open_data_task(scores, run.version, answers)
    summary = summarise_run(run, study.wave, accounting, reports, open_data)
    create_artifacts_task(run_artifacts("national-run", summary, scores.maturity_levels))
    close_run_task(run)
    return summary
