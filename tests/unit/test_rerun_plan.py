"""A council rerun redoes only the inputs that changed since the council's rows were loaded."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from flows.pipeline import Scope, check_inputs, plain_steps
from tasks.changes import plan_council_rerun
from tasks.contracts import Study
from tasks.extract import extract_dataset, restrict_to_council, study_datasets
from tasks.study import read_study
from tasks.validate import validate_table

DENBIGHSHIRE = "W06000004"
DENBIGHSHIRE_SPELLINGS = {"Denbighshire", "Denbighshire County Council", "Sir Ddinbych", DENBIGHSHIRE}
EDITED_TOOL = "digital_ict"


@pytest.fixture(scope="module")
def loaded(demo_study: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Study, Path]:
    """The demo study loaded into a warehouse (no scoring: planning needs only the load manifest)."""
    study = read_study(demo_study)
    steps, scope = plain_steps(), Scope.national()
    warehouse = tmp_path_factory.mktemp("plan-warehouse")
    steps.load(check_inputs(steps, study, scope), warehouse, study.wave)
    return study, warehouse


@pytest.fixture
def study_copy(loaded: tuple[Study, Path], tmp_path: Path) -> Study:
    """A copy of the study folder a test may edit, as a council's corrections would."""
    study, _ = loaded
    shutil.copytree(study.root, tmp_path / "study")
    return read_study(tmp_path / "study")


def edit_denbighshire(study: Study, relative: str, column: str, value: str) -> None:
    """Change one column of Denbighshire's rows in one input file."""
    path = study.root / relative
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = frame["council"].isin(DENBIGHSHIRE_SPELLINGS)
    assert rows.any()
    frame.loc[rows, column] = value
    frame.to_csv(path, index=False)


def test_unchanged_inputs_are_kept_and_invitations_always_redone(
    loaded: tuple[Study, Path], study_copy: Study
) -> None:
    plan = plan_council_rerun(study_copy, loaded[1], DENBIGHSHIRE)
    assert plan.redo == ("invitations",)
    assert set(plan.keep) == set(study_datasets()) - {"invitations"}
    assert f"responses/{EDITED_TOOL}.csv" in plan.kept_files


def test_an_edited_file_is_redone(loaded: tuple[Study, Path], study_copy: Study) -> None:
    edit_denbighshire(study_copy, f"responses/{EDITED_TOOL}.csv", "lvl_open_data", "3")
    plan = plan_council_rerun(study_copy, loaded[1], DENBIGHSHIRE)
    assert plan.redo == ("invitations", f"responses:{EDITED_TOOL}")
    assert f"responses:{EDITED_TOOL}" not in plan.keep


def test_edited_invitations_redo_every_input(loaded: tuple[Study, Path], study_copy: Study) -> None:
    """Responses are checked against invitations, so they cannot be kept when invitations change."""
    path = study_copy.root / "invitations.csv"
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    plan = plan_council_rerun(study_copy, loaded[1], DENBIGHSHIRE)
    assert plan.redo == tuple(study_datasets())
    assert plan.keep == ()


def test_rows_loaded_under_other_rules_are_not_kept(
    loaded: tuple[Study, Path], study_copy: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tasks.changes.method_fingerprint", lambda: "0" * 64)
    plan = plan_council_rerun(study_copy, loaded[1], DENBIGHSHIRE)
    assert plan.redo == tuple(study_datasets())


def test_a_database_source_is_always_redone(loaded: tuple[Study, Path], study_copy: Study) -> None:
    plan = plan_council_rerun(dataclasses.replace(study_copy, source="sqlite://"), loaded[1], DENBIGHSHIRE)
    assert plan.redo == tuple(study_datasets())


def test_reloading_only_changed_inputs_rewrites_the_same_partitions(
    loaded: tuple[Study, Path], study_copy: Study, tmp_path: Path
) -> None:
    """Carrying kept inputs' stored rows forward gives exactly what reloading everything would."""
    _, original = loaded
    warehouse = tmp_path / "warehouse"
    shutil.copytree(original, warehouse)
    plan = plan_council_rerun(study_copy, warehouse, DENBIGHSHIRE)
    plan = dataclasses.replace(
        plan,
        redo=(*plan.redo, f"responses:{EDITED_TOOL}"),
        keep=tuple(d for d in plan.keep if d != f"responses:{EDITED_TOOL}"),
    )
    steps, scope = plain_steps(), Scope(plan.redo, DENBIGHSHIRE, plan.keep)
    tables = check_inputs(steps, study_copy, scope)
    written = steps.load(tables, warehouse, study_copy.wave, scope.councils, scope.keep)
    assert set(written) == {"load_manifest", "invitations", "respondents", "answers", "comments"}
    partitions = sorted(original.glob(f"*/wave=*/gss_code={DENBIGHSHIRE}/*.parquet"))
    assert len(partitions) == 7
    for path in partitions:
        rewritten = warehouse / path.relative_to(original)
        assert rewritten.read_bytes() == path.read_bytes(), path.relative_to(original)


def test_a_rerun_accounts_for_rows_that_belong_to_no_council(study_copy: Study) -> None:
    """A changed file's unknown-council row is quarantined in the rerun, not lost from its accounting."""
    from tasks.validate import account_rows

    path = study_copy.responses_dir / "leadership.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    stranger = lines[1].split(",")
    stranger[0], stranger[1] = "R_UNKNOWNCOUNCIL1", "Narnia County Council"
    path.write_text("\n".join([lines[0], ",".join(stranger), *lines[1:]]), encoding="utf-8")
    extracted = extract_dataset(study_copy, "responses:leadership")
    scoped = restrict_to_council(extracted, DENBIGHSHIRE)
    own_rows = int((extracted.frame["gss_code"] == DENBIGHSHIRE).sum())
    [accounting] = account_rows([validate_table(scoped, study_copy)]).to_dict("records")
    assert accounting["rows_read"] == own_rows + 1
    assert accounting["rows_loaded"] == own_rows
    assert accounting["rows_quarantined"] == 1


def test_the_method_fingerprint_covers_the_loading_code_and_flows_but_not_the_cli(tmp_path: Path) -> None:
    # Before: flows/ was not hashed (a changed flow kept stale rows); a CLI edit discarded every reuse.
    from maturity.settings import METHOD_CODE_FOLDERS, METHOD_DATA_FOLDERS, PROJECT_ROOT, fingerprint_method

    assert "operations" not in METHOD_CODE_FOLDERS  # the CLI and operations never touch a loaded row
    for folder in (*METHOD_CODE_FOLDERS, *METHOD_DATA_FOLDERS):
        shutil.copytree(
            PROJECT_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    original = fingerprint_method(tmp_path, tmp_path)
    with (tmp_path / "tasks" / "report.py").open("a") as report_code:
        report_code.write("\n# a comment in the report code\n")
    assert fingerprint_method(tmp_path, tmp_path) == original
    for method_file in ("flows/rerun.py", "tasks/validate.py", "config/method.yaml"):
        with (tmp_path / method_file).open("a") as edited:
            edited.write("\n# an edit\n")
        changed = fingerprint_method(tmp_path, tmp_path)
        assert changed != original, method_file
        original = changed
