"""Changes: which inputs a council rerun must redo, and which are unchanged since its rows were loaded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import get_run_logger, task
from prefect.cache_policies import NONE

from maturity.settings import method_fingerprint
from tasks.contracts import Study
from tasks.extract import study_datasets
from tasks.sources import dataset_stem, file_sha256, locate_input
from warehouse.store import read_table

# Responses are reconciled against invitations, so new invitations mean every input is redone.
ANCHOR_DATASET = "invitations"


@dataclass(frozen=True)
class RerunPlan:
    """The inputs to re-extract, re-validate and reload for one council, and those kept as loaded."""

    redo: tuple[str, ...]
    keep: tuple[str, ...]
    kept_files: tuple[str, ...] = ()


def loaded_inputs(warehouse: Path, wave: str, gss_code: str) -> dict[str, tuple[str, str]]:
    """For each input a council's stored rows came from under today's method: (file, sha256)."""
    manifest = read_table(warehouse, "load_manifest", wave, [gss_code])
    current = manifest[manifest["method_sha256"] == method_fingerprint()]
    return {row.dataset: (row.source_file, row.source_sha256) for row in current.itertuples()}


def plan_council_rerun(study: Study, warehouse: Path, gss_code: str) -> RerunPlan:
    """Redo every input whose file changed since the council's rows were loaded; keep the rest.

    An input is kept only when the council has rows from it, loaded from a file with the same sha256
    under the same code, config and expectations: then redoing it would write the same rows. A database
    source is always redone, as telling whether a table changed means reading all of it.
    """
    datasets = study_datasets()
    if study.source:
        return RerunPlan(tuple(datasets), ())
    loaded = loaded_inputs(warehouse, study.wave, gss_code)
    unchanged = set()
    for dataset in datasets:
        path = locate_input(study.root, dataset_stem(dataset))
        relative = path.relative_to(study.root).as_posix()
        if loaded.get(dataset) == (relative, file_sha256(path)):
            unchanged.add(dataset)
    if ANCHOR_DATASET not in unchanged:
        return RerunPlan(tuple(datasets), ())
    keep = tuple(d for d in datasets if d in unchanged and d != ANCHOR_DATASET)
    redo = tuple(d for d in datasets if d not in keep)
    return RerunPlan(redo, keep, tuple(loaded[d][0] for d in keep))


@task(name="plan-rerun", cache_policy=NONE)
def plan_council_rerun_task(study: Study, warehouse: Path, gss_code: str) -> RerunPlan:
    """Prefect wrapper: decide what a council rerun redoes, and say what it keeps."""
    plan = plan_council_rerun(study, warehouse, gss_code)
    if plan.keep:
        get_run_logger().info(
            "%s: %d inputs unchanged since its rows were loaded, kept as stored (not re-read): %s",
            gss_code,
            len(plan.keep),
            ", ".join(plan.kept_files),
        )
    return plan
