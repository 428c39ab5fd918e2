"""The national run: extract -> validate -> load -> score -> publish, for every council."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from pydantic import SecretStr

from flows.pipeline import Options, Scope, Target, run_pipeline, task_steps
from flows.summary import RunSummary, run_artifacts, summarise_run
from maturity.demo import write_demo_study
from tasks.artifacts import create_artifacts_task
from tasks.contracts import Study
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
from warehouse.versions import DEMO_STUDY_DIR, inside, remove_tree


@task(name="read-study", cache_policy=NONE)
def read_study_task(
    inputs: Path | None, out: Path, wave: str | None, source: SecretStr | None = None
) -> Study:
    """Read and check study.yaml; with no inputs, write the bundled demo study under OUT and use it."""
    if inputs is None:
        demo = inside(out, DEMO_STUDY_DIR)
        if demo.exists():  # written afresh, so nothing planted inside it (a link) is written through
            remove_tree(demo, out)
        inputs = write_demo_study(demo)
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
    result = run_pipeline(
        task_steps(run),
        study,
        Target(run.version, run.quality_dir),
        Scope.national(),
        Options(report_status, report_pdf),
    )
    summary = summarise_run(run, study.wave, result.accounting, result.reports, result.open_data)
    create_artifacts_task(run_artifacts("national-run", summary))
    close_run_task(run)
    return summary
