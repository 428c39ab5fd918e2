"""Atomic, idempotent runs; failures at every stage leave the last good outputs; council reruns."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from flows.national import national_run
from flows.rerun import council_rerun
from maturity.settings import REGISTRY_URL_ENV, load_settings, registry_url
from tasks.contracts import DatasetError
from tests.integration.conftest import DemoRun
from warehouse import registry
from warehouse.versions import LOCK_FILE, VERSIONS_DIR

PUBLISHED = ("warehouse", "open-data", "reports")
DENBIGHSHIRE = "W06000004"
DENBIGHSHIRE_SPELLINGS = {"Denbighshire", "Denbighshire County Council", "Sir Ddinbych", DENBIGHSHIRE}


def fingerprint(out: Path) -> dict[str, str]:
    """sha256 of every published file, as a reader sees them through OUT's links."""
    prints = {}
    for area in PUBLISHED:
        root = out / area
        for folder, _, files in os.walk(root, followlinks=True):
            for name in files:
                path = Path(folder) / name
                prints[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return prints


@pytest.fixture
def first_run(demo_run: DemoRun, tmp_path: Path) -> Path:
    """An OUT holding one successful national run of the demo study (study_copy's twin): a copy of the
    session's run, so each test that changes OUT starts from it without a national run of its own."""
    out = tmp_path / "out"
    demo_run.copy_to(out)
    return out


@pytest.fixture
def run_of_study_copy(study_copy: Path, tmp_path: Path) -> Path:
    """One national run of study_copy into tmp_path/out: a rerun without --inputs finds study_copy."""
    out = tmp_path / "out"
    national_run(inputs=study_copy, out=out)
    return out


def test_two_runs_on_the_same_inputs_are_byte_identical(
    demo_run: DemoRun, demo_study: Path, tmp_path: Path
) -> None:
    national_run(inputs=demo_study, out=tmp_path / "b")  # the first: the session's run of the demo study
    first, second = fingerprint(demo_run.out), fingerprint(tmp_path / "b")
    assert len(first) > 200
    assert first == second


def _fail(message: str):
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError(message)

    return boom


FAILURES = {
    "after load": ("tasks.score.score_councils", None),
    "during scoring": ("tasks.score.write_table", "maturity_levels"),
    "during publishing": ("tasks.publish.open_maturity_levels", None),
    "at commit": ("tasks.runs.commit_version", None),
}


@pytest.mark.parametrize("stage", list(FAILURES))
def test_a_failure_at_any_stage_leaves_the_previous_outputs(
    stage: str, first_run: Path, study_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint(first_run)
    target, only_for = FAILURES[stage]
    module_name, attribute = target.rsplit(".", 1)
    module = sys.modules[module_name]
    original = getattr(module, attribute)

    def failing(*args: object, **kwargs: object) -> object:
        if only_for is None or any(isinstance(a, str) and a == only_for for a in args):
            raise RuntimeError(f"injected failure {stage}")
        return original(*args, **kwargs)

    monkeypatch.setattr(module, attribute, failing)
    with pytest.raises(RuntimeError, match=f"injected failure {stage}"):
        national_run(inputs=study_copy, out=first_run)
    assert fingerprint(first_run) == before
    assert not (first_run / LOCK_FILE).exists()
    runs = registry.recent_runs(registry_url(first_run), 1)
    assert runs.loc[0, "status"] == "failed"
    assert f"injected failure {stage}" in runs.loc[0, "message"]

    monkeypatch.setattr(module, attribute, original)
    national_run(inputs=study_copy, out=first_run)
    assert fingerprint(first_run) == before
    assert len([p for p in (first_run / VERSIONS_DIR).iterdir() if p.is_dir()]) == 2


def test_a_killed_run_leaves_the_previous_outputs_and_the_next_run_completes(
    first_run: Path, study_copy: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    before = fingerprint(first_run)
    script = (
        "import os, signal, sys\n"
        "import tasks.publish as publish\n"
        "publish.open_maturity_levels = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from flows.national import national_run\n"
        "from pathlib import Path\n"
        "national_run(inputs=Path(sys.argv[1]), out=Path(sys.argv[2]))\n"
    )
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    killed = subprocess.run(
        [sys.executable, "-c", script, str(study_copy), str(first_run)],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL
    assert fingerprint(first_run) == before
    assert (first_run / LOCK_FILE).exists()  # left behind by the killed process
    national_run(inputs=study_copy, out=first_run)
    assert fingerprint(first_run) == before
    assert not (first_run / LOCK_FILE).exists()


def _change_denbighshire_answers(study: Path) -> None:
    path = study / "responses" / "digital_ict.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = frame["council"].isin(DENBIGHSHIRE_SPELLINGS)
    assert rows.sum() > 0
    frame.loc[rows, "lvl_open_data"] = "3"
    frame.loc[rows, "lvl_data_analytics"] = "3"
    frame.to_csv(path, index=False)


def test_a_council_rerun_changes_only_that_council_and_national_figures(
    run_of_study_copy: Path, study_copy: Path, tmp_path: Path
) -> None:
    before = fingerprint(run_of_study_copy)
    # The national run to compare with starts from the same OUT: its earlier release is part of what
    # the disclosure audit must respect, for a rerun and a national run alike.
    fresh = tmp_path / "fresh"
    shutil.copytree(run_of_study_copy, fresh, symlinks=True)
    _change_denbighshire_answers(study_copy)
    summary = council_rerun(council="Sir Ddinbych", out=run_of_study_copy)
    after = fingerprint(run_of_study_copy)

    changed = {path for path in after if before.get(path) != after[path]}
    allowed_partitions = (f"gss_code={DENBIGHSHIRE}", "gss_code=W92000004")
    for path in changed:
        if path.startswith("warehouse/"):
            assert any(part in path for part in allowed_partitions), path
    assert f"warehouse/maturity_levels/wave=2018/gss_code={DENBIGHSHIRE}/part-0.parquet" in changed
    assert f"reports/2018/{DENBIGHSHIRE}.en.html" in changed
    # Every report is rendered again: other councils' reports show Wales figures the correction moves.
    assert len(summary.reports) == 2 * (len(load_settings().councils) + 1) + 1  # and the site index
    assert summary.accounting["rows_read"].sum() < 200  # one council's rows, not the whole study
    # Only the edited file (and the invitations it is checked against) is re-read; the rest are kept.
    assert list(summary.accounting["dataset"]) == ["invitations", "responses:digital_ict"]

    # The rerun gives the same figures as a fresh national run on the corrected inputs.
    national_run(inputs=study_copy, out=fresh)
    for table in (
        "answers",
        "maturity_levels",
        "response_rates",
        "comments",
        "public_survey",
        "population",
        "maturity_themes",
        "statement_results",
        "perception_gaps",
        "wales_comparisons",
        "public_survey_results",
        "comment_themes",
    ):
        rerun_table = pd.read_parquet(run_of_study_copy / "warehouse" / table).sort_values(
            list(pd.read_parquet(fresh / "warehouse" / table).columns)
        )
        fresh_table = pd.read_parquet(fresh / "warehouse" / table).sort_values(list(rerun_table.columns))
        pd.testing.assert_frame_equal(
            rerun_table.reset_index(drop=True), fresh_table.reset_index(drop=True), check_categorical=False
        )
    fresh_prints = fingerprint(fresh)
    compared = [
        p for p in after if p.startswith(("reports/", "open-data/")) and p.endswith((".csv", ".html"))
    ]
    assert len(compared) > 50
    for path in compared:
        assert after[path] == fresh_prints[path], path


@pytest.mark.parametrize(
    ("council", "message"),
    [
        ("../x", r'"\.\./x" is not a known council'),
        ("Denbyshire", 'closest known council is "Denbighshire"'),
    ],
)
def test_rerun_of_an_unknown_council_is_a_clear_error(first_run: Path, council: str, message: str) -> None:
    before = fingerprint(first_run)
    with pytest.raises(DatasetError, match=message):
        council_rerun(council=council, out=first_run)
    assert fingerprint(first_run) == before


def test_rerun_needs_a_national_run_first(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no completed national run"):
        council_rerun(council=DENBIGHSHIRE, out=tmp_path / "empty")


def test_registry_records_inputs_outputs_and_quality(demo_run: DemoRun, demo_study: Path) -> None:
    first_run, study_copy = demo_run.out, demo_study
    engine = registry.registry_engine(registry_url(first_run))
    with engine.connect() as connection:
        run = connection.execute(sa.select(registry.Run)).mappings().one()
        inputs = pd.read_sql(sa.select(registry.RunInput), connection)
        outputs = pd.read_sql(sa.select(registry.RunOutput), connection)
    assert run["status"] == "completed"
    assert run["wave"] == "2018"
    assert run["code_version"].startswith("0.1.0")
    assert len(inputs) == 9
    leadership = inputs.set_index("path").loc["responses/leadership.csv"]
    assert (
        leadership["sha256"]
        == hashlib.sha256((study_copy / "responses" / "leadership.csv").read_bytes()).hexdigest()
    )
    assert (inputs["rows_read"] == inputs["rows_loaded"] + inputs["rows_quarantined"]).all()
    current = (first_run / "current").resolve()
    assert len(outputs) > 200
    for row in outputs.sample(20, random_state=1).itertuples():
        assert hashlib.sha256((current / row.path).read_bytes()).hexdigest() == row.sha256


def test_an_analyst_reads_the_warehouse_in_two_lines(demo_run: DemoRun) -> None:
    first_run = demo_run.out
    # As docs/outputs.md shows:
    levels = pd.read_parquet(first_run / "warehouse" / "maturity_levels" / "wave=2018")
    assert len(levels) == (22 + 1) * 7 * 3  # every council, and Wales, x characteristic x group
    assert set(levels["gss_code"].astype(str)) >= {DENBIGHSHIRE, "W92000004"}


def test_the_registry_works_on_postgresql(
    postgres_url: str, demo_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"registry_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    url = sa.make_url(postgres_url).set(database=database).render_as_string(hide_password=False)
    monkeypatch.setenv(REGISTRY_URL_ENV, url)
    try:
        national_run(inputs=demo_study, out=tmp_path / "out")
        runs = registry.recent_runs(url, 5)
        assert runs.loc[0, "status"] == "completed"
        assert runs.loc[0, "rows_read"] == runs.loc[0, "rows_loaded"] + runs.loc[0, "rows_quarantined"]
        assert not (tmp_path / "out" / "registry.sqlite").exists()
    finally:
        registry.registry_engine(url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(tmp_path / "out", ignore_errors=True)


def test_status_lists_runs_with_their_accounting(demo_run: DemoRun) -> None:
    first_run = demo_run.out
    maturity = Path(sys.executable).parent / "maturity"
    env = {**os.environ, "COLUMNS": "250"}
    shown = subprocess.run(
        [str(maturity), "status", "--out", str(first_run)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    run = registry.recent_runs(registry_url(first_run), 1).iloc[0]
    assert run["id"] in shown
    assert "national-run" in shown
    assert "completed" in shown
    assert f"{int(run['rows_read'])}" in shown


def test_the_readme_shows_how_to_read_the_warehouse_and_it_works(
    demo_run: DemoRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/outputs.md's 'Reading the warehouse' snippets, run as written against a national run's output."""
    first_run = demo_run.out
    from maturity.settings import PROJECT_ROOT, load_settings

    readme = (PROJECT_ROOT / "docs" / "outputs.md").read_text()
    section = readme.split("## Reading the warehouse", 1)[1].split("\n## ", 1)[0]
    snippets = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(snippets) == 2
    (tmp_path / "analyst").mkdir()
    (tmp_path / "analyst" / "output").symlink_to(first_run)
    monkeypatch.chdir(tmp_path / "analyst")
    found: dict[str, object] = {}
    for snippet in snippets:
        exec(snippet, found)  # the documentation's own code, unchanged
    councils = {c.gss_code for c in load_settings().councils}
    levels = found["councils"]
    assert set(levels["gss_code"]) == councils
    spread = found["spread"]
    assert int(spread["councils"].sum()) == len(councils) * len(load_settings().characteristics)
    all_levels = levels[levels["recipient_group"] == "all"].dropna(subset=["level"])
    assert int(spread["councils"].sum()) == len(all_levels)
