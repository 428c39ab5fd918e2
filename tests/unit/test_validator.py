"""The validator process: GX stays out of the run's process, and its checks and Data Docs are the same."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from operations.failures import EXIT_ENVIRONMENT_ERROR, describe_failure
from tasks import validator
from tasks.extract import extract_dataset, study_datasets
from tasks.study import read_study
from tasks.validate import reconcile_response_counts, validate_table, write_quality_record

# Run in a fresh interpreter, as the CLI does: this test process has imported GX already.
CHECK = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from maturity.settings import configure_offline_environment
    configure_offline_environment()
    from tasks.validator import start_validator, stop_validator
    start_validator()
    from tasks.study import read_study
    from tasks.extract import extract_dataset, study_datasets
    from tasks.validate import reconcile_response_counts, validate_table, write_quality_record
    study = read_study(Path(sys.argv[1]))
    tables = [validate_table(extract_dataset(study, d), study) for d in study_datasets()]
    tables = reconcile_response_counts(tables, study)
    write_quality_record(tables, Path(sys.argv[2]))
    stop_validator()
    print(json.dumps({"gx_in_run_process": "great_expectations" in sys.modules}))
    """
)


def break_one_answer(study: Path) -> None:
    """Give one leadership answer a level the scale does not have, so a row is quarantined."""
    path = study / "responses" / "leadership.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "lvl_leadership"] = "7"
    frame.to_csv(path, index=False)


def test_validator_process_gives_the_same_quality_record_without_gx_here(
    study_copy: Path, tmp_path: Path
) -> None:
    break_one_answer(study_copy)
    command = [sys.executable, "-c", CHECK, str(study_copy), str(tmp_path / "there")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"gx_in_run_process": False}
    assert result.stderr.strip() == "", "the validator process printed on the run's stderr"

    study = read_study(study_copy)
    tables = [validate_table(extract_dataset(study, d), study) for d in study_datasets()]
    write_quality_record(reconcile_response_counts(tables, study), tmp_path / "here")
    for name in ("accounting.csv", "quarantine.csv", "quarantine.parquet"):
        there, here = (tmp_path / side / name for side in ("there", "here"))
        assert there.read_bytes() == here.read_bytes(), name
    assert len(pd.read_csv(tmp_path / "there" / "quarantine.csv")) >= 1
    # The same pages; their paths differ only by the run's folder name and time.
    pages = {side: sorted(p.name for p in (tmp_path / side).rglob("*.html")) for side in ("there", "here")}
    assert pages["there"]
    assert pages["there"] == pages["here"]


@pytest.fixture
def started_validator():
    """A validator process for one test, stopped after it."""
    validator.start_validator()
    yield
    validator.stop_validator()


@pytest.mark.usefixtures("started_validator")
def test_a_lost_validator_process_is_one_line_and_exit_code_3() -> None:
    [process] = validator.validator_processes()
    process.kill()
    process.join()
    with pytest.raises(validator.ValidatorLostError) as lost:
        validator.check_suite_in_validator(pd.DataFrame({"source_row": [1]}), {}, {}, None, "source_row")
    failure = describe_failure(lost.value)
    assert failure is not None
    assert failure.exit_code == EXIT_ENVIRONMENT_ERROR
    assert "\n" not in failure.text
    assert "Run again" in failure.text


def test_stopping_does_not_wait_for_the_import_of_gx() -> None:
    validator.start_validator()
    processes = validator.validator_processes()
    started = time.monotonic()
    validator.stop_validator()
    assert time.monotonic() - started < validator.STOP_SECONDS
    assert processes
    assert not any(p.is_alive() for p in processes)
    assert not validator.validator_running()


def test_without_a_validator_suites_run_here(demo_study: Path) -> None:
    study = read_study(demo_study)
    validated = validate_table(extract_dataset(study, "invitations"), study)
    assert not validator.validator_running()
    assert not any(isinstance(r, validator.KeptResult) for r in validated.gx_results)
