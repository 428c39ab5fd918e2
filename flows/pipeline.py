"""The study's one pipeline: extract -> validate -> load -> score -> report -> publish, over a scope.

The national run, the council rerun (the same pipeline over one council), the tests and the benchmarks
all call `run_pipeline` (or its first stages), so what is tested and measured is what ships. Its steps
come as `Steps`: Prefect tasks inside a flow (`task_steps`), or the plain functions they wrap
(`plain_steps`: tests, benchmarks, a notebook; no Prefect server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.commentary import write_commentary_record, write_commentary_record_task
from tasks.contracts import ExtractedTable, Study, ValidatedTable
from tasks.extract import (
    extract_dataset,
    extract_dataset_task,
    restrict_to_council,
    restrict_to_council_task,
    study_datasets,
)
from tasks.load import load_warehouse, load_warehouse_task
from tasks.publish import (
    AnswerTables,
    ReleasePlan,
    open_answer_tables,
    open_answer_tables_task,
    plan_release,
    plan_release_task,
    publish_open_data_task,
    publish_planned_release,
)
from tasks.report import (
    Report,
    ReportInputs,
    finish_reports,
    finish_reports_task,
    plan_reports_task,
    prepare_reports,
    render_report_task,
    write_quote_candidates,
    write_quote_candidates_task,
    write_report_batch,
)
from tasks.runs import RunContext, record_inputs_task
from tasks.score import Scores, score_councils, score_councils_task, score_national, score_national_task
from tasks.validate import (
    reconcile_response_counts,
    reconcile_response_counts_task,
    validate_table,
    validate_table_task,
    write_quality_record,
)
from tasks.wave_change import score_change, score_change_task


@dataclass(frozen=True)
class Scope:
    """What a run rebuilds: every council from every input, or one council, keeping unchanged inputs."""

    datasets: tuple[str, ...]
    council: str | None = None
    keep: tuple[str, ...] = ()

    @classmethod
    def national(cls) -> Scope:
        """Every council, every input."""
        return cls(tuple(study_datasets()))

    @property
    def councils(self) -> list[str] | None:
        """The councils whose rows are replaced (None: all)."""
        return None if self.council is None else [self.council]


@dataclass(frozen=True)
class Target:
    """Where a pipeline writes: the output version (warehouse, reports, open data) and the quality folder."""

    version: Path
    quality_dir: Path

    @property
    def warehouse(self) -> Path:
        return self.version / "warehouse"


@dataclass(frozen=True)
class Options:
    """How reports are made: draft (watermarked) or final, with or without PDFs."""

    report_status: str = "draft"
    report_pdf: bool = False


@dataclass(frozen=True)
class Steps:
    """The pipeline's steps, as Prefect tasks or as plain functions: the same functions either way."""

    extract: Callable[[Study, tuple[str, ...]], list[ExtractedTable]]
    restrict: Callable[[ExtractedTable, str], ExtractedTable]
    validate: Callable[[ExtractedTable, Study], ValidatedTable]
    reconcile: Callable[[list[ValidatedTable], Study], list[ValidatedTable]]
    record_inputs: Callable[[list[ValidatedTable], str, Target], pd.DataFrame]
    record_commentary: Callable[[Study, Path], Path]
    load: Callable[..., Any]
    score_councils: Callable[[Path, str, list[str] | None], None]
    score_national: Callable[[Path, str], Scores]
    score_change: Callable[[Path, Scores, list[str] | None], Scores]
    write_quote_candidates: Callable[[Scores, Study, Path], Path]
    control_disclosure: Callable[[Scores, Path], AnswerTables]
    plan_release: Callable[[Scores, Path, AnswerTables], ReleasePlan]
    plan_reports: Callable[..., tuple[ReportInputs, list[list[Report]]]]
    render_reports: Callable[[list[list[Report]], ReportInputs], list[list[Path]]]
    finish_reports: Callable[[list[list[Path]], bool], list[Path]]
    publish_open_data: Callable[[ReleasePlan, Path], list[Path]]
    workers: Callable[[], int] = field(default=lambda: 1)


@dataclass
class PipelineResult:
    """What one pipeline run read, scored and wrote."""

    accounting: pd.DataFrame
    scores: Scores
    reports: list[Path]
    open_data: list[Path]


def check_inputs(steps: Steps, study: Study, scope: Scope) -> list[ValidatedTable]:
    """Extract the inputs in scope and validate them: rows fit to load, and rows set aside with reasons."""
    extracted = steps.extract(study, scope.datasets)
    if scope.council is not None:
        extracted = [steps.restrict(table, scope.council) for table in extracted]
    return steps.reconcile([steps.validate(table, study) for table in extracted], study)


def load_and_score(
    steps: Steps, validated: list[ValidatedTable], study: Study, target: Target, scope: Scope
) -> Scores:
    """Load the checked rows (the scope's councils), score councils and Wales, and the change since before."""
    steps.load(validated, target.warehouse, study.wave, scope.councils, scope.keep)
    steps.score_councils(target.warehouse, study.wave, scope.councils)
    scores = steps.score_national(target.warehouse, study.wave)
    return steps.score_change(target.warehouse, scores, scope.councils)  # since the earlier wave, if any


def publish_outputs(
    steps: Steps, scores: Scores, study: Study, target: Target, options: Options
) -> tuple[list[Path], list[Path]]:
    """Disclosure control, then every report and the open data; quote candidates for the auditor.

    Every report is rendered, in a rerun too: the Wales figures and the disclosure audit can change what
    other councils' reports show (unchanged pages keep their files).
    """
    steps.write_quote_candidates(scores, study, target.quality_dir)  # restricted: for the auditor to approve
    answers = steps.control_disclosure(scores, target.version)
    release = steps.plan_release(scores, target.version, answers)  # the reports name its version
    inputs, batches = steps.plan_reports(
        scores, study, target.version, None, options.report_status, steps.workers(), answers, release.version
    )
    reports = steps.finish_reports(steps.render_reports(batches, inputs), options.report_pdf)
    return reports, steps.publish_open_data(release, target.version)


def run_pipeline(
    steps: Steps, study: Study, target: Target, scope: Scope, options: Options
) -> PipelineResult:
    """The whole study over a scope: check inputs, record them, load, score, report and publish."""
    validated = check_inputs(steps, study, scope)
    accounting = steps.record_inputs(validated, study.wave, target)
    steps.record_commentary(study, target.quality_dir)  # lineage of the auditors' commentary shown
    scores = load_and_score(steps, validated, study, target, scope)
    reports, open_data = publish_outputs(steps, scores, study, target, options)
    return PipelineResult(accounting, scores, reports, open_data)


def plain_steps() -> Steps:
    """The steps as plain functions, one after another in this process: no Prefect, no server."""
    return Steps(
        extract=lambda study, datasets: [extract_dataset(study, dataset) for dataset in datasets],
        restrict=restrict_to_council,
        validate=validate_table,
        reconcile=reconcile_response_counts,
        record_inputs=lambda tables, wave, target: write_quality_record(tables, target.quality_dir),
        record_commentary=write_commentary_record,
        load=load_warehouse,
        score_councils=score_councils,
        score_national=score_national,
        score_change=score_change,
        write_quote_candidates=write_quote_candidates,
        control_disclosure=open_answer_tables,
        plan_release=lambda scores, version, answers: plan_release(scores, version, answers=answers),
        plan_reports=prepare_reports,
        render_reports=lambda batches, inputs: [write_report_batch(batch, inputs) for batch in batches],
        finish_reports=finish_reports,
        publish_open_data=publish_planned_release,
    )


def task_steps(run: RunContext) -> Steps:
    """The steps as Prefect tasks of the running flow, recording inputs in the run's registry.

    Inputs are extracted concurrently and reports rendered one batch per worker; validation stays in the
    flow's process whatever the task runner: GX runs under one lock and was imported while Prefect started,
    and a worker process would pay that import (about 5 s) again.
    """
    from prefect import unmapped

    from flows.runners import parallel_workers, submits_in_this_process

    def extract_concurrently(study: Study, datasets: tuple[str, ...]) -> list[ExtractedTable]:
        futures = [extract_dataset_task.submit(study, dataset) for dataset in datasets]
        return [future.result() for future in futures]

    def render_in_parallel(batches: list[list[Report]], inputs: ReportInputs) -> list[list[Path]]:
        # Prefect 3.9's process pool handed an annotated argument to the task as a bare tuple
        # (tests/integration/test_task_runners.py), and a Dask cluster pickles them too (not tried). So only a
        # batch rendered in this process gets its inputs untraversed.
        shared = untraversed(inputs) if submits_in_this_process() else inputs
        return render_report_task.map(batches, unmapped(shared)).result()

    called_in_this_flow = {
        "restrict": restrict_to_council_task,
        "validate": validate_table_task,
        "reconcile": reconcile_response_counts_task,
        "record_commentary": write_commentary_record_task,
        "load": load_warehouse_task,
        "score_councils": score_councils_task,
        "score_national": score_national_task,
        "score_change": score_change_task,
        "write_quote_candidates": write_quote_candidates_task,
        "control_disclosure": open_answer_tables_task,
        "plan_release": plan_release_task,
        "plan_reports": plan_reports_task,
        "finish_reports": finish_reports_task,
        "publish_open_data": publish_open_data_task,
    }
    return Steps(
        extract=extract_concurrently,
        record_inputs=lambda tables, wave, target: record_inputs_task(run, wave, untraversed(tables)),
        render_reports=render_in_parallel,
        workers=parallel_workers,
        **{step: untraversing(task) for step, task in called_in_this_flow.items()},
    )


def untraversed(value: Any) -> Any:
    """A task argument Prefect resolves and links to the task that made it, but does not walk into.

    Prefect visits every element of an argument (each row of an index, each field of a dataclass) to find
    futures in it: 1.8 s of a council rerun's profile; ours never hold futures. A list's items stay separate,
    so each keeps its link to the task that returned it (the run's graph in the UI is unchanged).
    """
    from prefect.utilities.annotations import opaque

    if isinstance(value, list):
        return [opaque(item) for item in value]
    return opaque(value)


def untraversing(step: Callable[..., Any]) -> Callable[..., Any]:
    """The task, called in the flow's own thread (any task runner) with every argument untraversed."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return step(*map(untraversed, args), **{name: untraversed(v) for name, v in kwargs.items()})

    return call
