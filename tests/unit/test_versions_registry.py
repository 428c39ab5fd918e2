"""Output versions commit atomically and clean up after failures; the registry schema matches its models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from warehouse import registry
from warehouse.versions import (
    LOCK_FILE,
    OutputLayoutError,
    abandon_version,
    begin_version,
    commit_version,
    current_version,
    written_files,
)


def _publish(out: Path, run_id: str, content: str) -> Path:
    version = begin_version(out, run_id)
    (version / "warehouse" / "table.parquet").unlink(missing_ok=True)
    (version / "warehouse" / "table.parquet").write_text(content)
    commit_version(out, version)
    return version


def test_commit_switches_every_area_at_once(tmp_path: Path) -> None:
    _publish(tmp_path, "run-1", "first")
    assert (tmp_path / "warehouse" / "table.parquet").read_text() == "first"
    version = begin_version(tmp_path, "run-2")
    (version / "warehouse" / "table.parquet").unlink()
    (version / "warehouse" / "table.parquet").write_text("second")
    # Not visible until committed.
    assert (tmp_path / "warehouse" / "table.parquet").read_text() == "first"
    commit_version(tmp_path, version)
    assert (tmp_path / "warehouse" / "table.parquet").read_text() == "second"
    assert current_version(tmp_path) == version.resolve()
    assert not (tmp_path / LOCK_FILE).exists()


def test_new_version_shares_unchanged_files_and_knows_what_it_wrote(tmp_path: Path) -> None:
    first = _publish(tmp_path, "run-1", "first")
    (first / "reports").joinpath("a.html").write_text("kept")
    version = begin_version(tmp_path, "run-2")
    assert os.path.samefile(version / "reports" / "a.html", first / "reports" / "a.html")
    (version / "warehouse" / "table.parquet").unlink()
    (version / "warehouse" / "table.parquet").write_text("new")
    assert written_files(tmp_path, version) == [version / "warehouse" / "table.parquet"]
    abandon_version(tmp_path, "run-2")


def test_abandoned_version_leaves_current_untouched_and_is_removed(tmp_path: Path) -> None:
    _publish(tmp_path, "run-1", "first")
    version = begin_version(tmp_path, "run-2")
    (version / "warehouse" / "table.parquet").unlink()
    (version / "warehouse" / "table.parquet").write_text("half-written")
    abandon_version(tmp_path, "run-2")
    assert not version.exists()
    assert (tmp_path / "warehouse" / "table.parquet").read_text() == "first"
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_crashed_run_is_cleaned_up_by_the_next(tmp_path: Path) -> None:
    _publish(tmp_path, "run-1", "first")
    crashed = begin_version(tmp_path, "run-2")
    finished = subprocess.Popen(["true"])
    finished.wait()  # its process id no longer runs, like a run killed mid-way
    (tmp_path / LOCK_FILE).write_text(f"{finished.pid} run-2")
    _publish(tmp_path, "run-3", "third")
    assert not crashed.exists()
    assert (tmp_path / "warehouse" / "table.parquet").read_text() == "third"
    # The previous committed version is kept, nothing else.
    assert sorted(p.name for p in (tmp_path / ".versions").iterdir() if p.is_dir()) == ["run-1", "run-3"]


def test_a_live_run_holds_the_folder(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        tmp_path.mkdir(exist_ok=True)
        (tmp_path / LOCK_FILE).write_text(f"{sleeper.pid} run-busy")
        with pytest.raises(OutputLayoutError, match=r"another run \(run-busy, process \d+\) is writing"):
            begin_version(tmp_path, "run-2")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_real_folder_where_a_link_belongs_is_refused(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    with pytest.raises(OutputLayoutError, match="is a real folder"):
        begin_version(tmp_path, "run-1")


def test_migrations_build_exactly_the_models(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = registry.registry_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), registry.Base.metadata)
    assert differences == []
    assert set(sa.inspect(engine).get_table_names()) >= {
        "runs",
        "run_inputs",
        "run_outputs",
        "quality_results",
    }


def test_the_registry_head_is_alembics_newest_revision() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(registry.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_heads() == [registry.REGISTRY_HEAD]


def test_a_registry_at_head_opens_without_importing_alembic(tmp_path: Path) -> None:
    """Alembic's import was 0.6 s of a cold rerun; a registry already at head needs no upgrade."""
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    registry.registry_engine(url)  # a new registry: migrated by Alembic
    opened = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from warehouse import registry; engine = registry.registry_engine(sys.argv[1]); "
            "print(registry.registry_revision(engine), 'alembic' in sys.modules)",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert opened.stdout.split() == [registry.REGISTRY_HEAD, "False"]


def test_a_registry_at_an_older_revision_is_still_upgraded(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "registry.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(registry.MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
    assert registry.registry_revision(engine) == "0002"
    assert "prefect_flow_run_name" not in {c["name"] for c in sa.inspect(engine).get_columns("runs")}
    engine.dispose()

    upgraded = registry.registry_engine(f"sqlite:///{path}")
    assert registry.registry_revision(upgraded) == registry.REGISTRY_HEAD
    assert "prefect_flow_run_name" in {c["name"] for c in sa.inspect(upgraded).get_columns("runs")}


def test_registry_round_trip(tmp_path: Path) -> None:
    import pandas as pd

    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    registry.start_run(
        url, "r1", "national-run", {"out": Path("x")}, code_version="t", prefect_flow_run_id="f-1"
    )
    accounting = pd.DataFrame(
        [
            {
                "dataset": "invitations",
                "source_file": "invitations.csv",
                "sha256": "ab",
                "rows_read": 3,
                "rows_loaded": 2,
                "rows_quarantined": 1,
            }
        ]
    )
    quarantine = pd.DataFrame(
        [
            {
                "dataset": "invitations",
                "source_file": "invitations.csv",
                "source_row": 4,
                "column": "invited",
                "value": "0",
                "reason": "must be above zero",
            }
        ]
    )
    registry.record_inputs(url, "r1", "2018", accounting, quarantine)
    registry.finish_run(url, "r1", [registry.OutputFile("warehouse/x.parquet", "cd", 10)])
    runs = registry.recent_runs(url, 5)
    assert runs.loc[0, ["status", "wave", "rows_read", "rows_quarantined", "outputs"]].tolist() == [
        "completed",
        "2018",
        3,
        1,
        1,
    ]
    assert registry.run_id_for_flow_run(url, "f-1") == "r1"
    assert registry.last_completed_parameters(url, "national-run") == {"out": "x"}
    registry.start_run(url, "r2", "national-run", {}, code_version="t")
    registry.fail_run(url, "r2", "boom")
    assert registry.recent_runs(url, 1).loc[0, "message"] == "boom"


def test_a_registry_made_again_at_the_same_path_is_read_afresh(tmp_path: Path) -> None:
    # A long-lived process (the warm rerun worker, a benchmark) used to keep its pooled connection to
    # the deleted file, so it read and wrote the old OUT's runs instead of the new OUT's.
    out = tmp_path / "out"
    out.mkdir()
    url = f"sqlite:///{out / 'registry.sqlite'}"
    registry.start_run(url, "first-out-run", "national-run", {}, code_version="test")
    assert list(registry.recent_runs(url, 5)["id"]) == ["first-out-run"]
    shutil.rmtree(out)
    out.mkdir()
    registry.start_run(url, "second-out-run", "national-run", {}, code_version="test")
    assert list(registry.recent_runs(url, 5)["id"]) == ["second-out-run"]
