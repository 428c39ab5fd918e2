"""The national run: extract -> validate -> load -> score -> publish, for every council."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.runtime import flow_run
from pydantic import SecretStr

from maturity.demo import write_demo_study
from maturity.settings import load_settings
from tasks.contracts import Study, read_study
from tasks.extract import (
    extract_invitations_task,
    extract_population_task,
    extract_public_survey_task,
    extract_responses_task,
)
from tasks.load import load_warehouse_task
from tasks.publish import publish_open_data_task
from tasks.report import render_reports_task
from tasks.score import score_wave_task
from tasks.validate import (
    reconcile_response_counts_task,
    validate_table_task,
    write_quality_record_task,
)

DEFAULT_OUT = Path("output")
DEMO_STUDY_FOLDER = "demo-study"


@dataclass
class RunSummary:
    """What a national run read, set aside and wrote."""

    run_id: str
    wave: str
    accounting: pd.DataFrame
    quality_dir: Path
    reports: list[Path]
    open_data: list[Path]


@task(name="read-study", cache_policy=NONE)
def read_study_task(
    inputs: Path | None, out: Path, wave: str | None, source: SecretStr | None = None
) -> Study:
    """Read and check study.yaml; with no inputs, write the bundled demo study under OUT and use it."""
    if inputs is None:
        inputs = write_demo_study(out / DEMO_STUDY_FOLDER)
        get_run_logger().info("No inputs given: using the bundled demo study, written to %s", inputs)
    return read_study(inputs, wave, source.get_secret_value() if source else None)


def current_run_id() -> str:
    """A run id that sorts by time and names the Prefect flow run it came from."""
    started = flow_run.scheduled_start_time
    return f"{started:%Y%m%dT%H%M%S}-{str(flow_run.id)[:8]}"


@flow(name="national-run")
def national_run(
    inputs: Path | None = None,
    out: Path = DEFAULT_OUT,
    wave: str | None = None,
    source: SecretStr | None = None,
) -> RunSummary:
    """Run the national study for every council and publish reports and open data.

    source: an SQLAlchemy URL to read the data from instead of the study folder's files (a secret,
    as it may hold a password: Prefect records it as ***** when it is passed as a SecretStr).
    """
    run_id = current_run_id()
    study = read_study_task(inputs, out, wave, source)
    extracting = [
        extract_invitations_task.submit(study),
        *[extract_responses_task.submit(study, tool.id) for tool in load_settings().tools],
        extract_public_survey_task.submit(study),
        extract_population_task.submit(study),
    ]
    extracted = [future.result() for future in extracting]
    validating = [validate_table_task.submit(table, study) for table in extracted]
    validated = reconcile_response_counts_task([future.result() for future in validating], study)
    accounting = write_quality_record_task(validated, out / "quality" / run_id)
    load_warehouse_task(validated, out / "warehouse", study.wave)
    scores = score_wave_task(out / "warehouse", study.wave)
    reports = render_reports_task(scores, study, out)
    open_data = publish_open_data_task(scores, out)
    return RunSummary(run_id, study.wave, accounting, out / "quality" / run_id, reports, open_data)
