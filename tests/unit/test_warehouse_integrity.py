"""A damaged or missing warehouse file is caught before a run carries it forward or a rerun reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks import runs
from warehouse import registry
from warehouse.versions import OutputLayoutError

PARTITION = "warehouse/answers/wave=2018/gss_code=W06000004/part-0.parquet"
OTHER_WAVE = "warehouse/answers/wave=2017/gss_code=W06000004/part-0.parquet"


def committed_out(tmp_path: Path) -> Path:
    """OUT after one committed run whose warehouse holds two waves' partitions."""
    out = tmp_path / "out"
    run = runs.open_run(out, "national-run", {}, "11111111-0000-0000-0000-000000000001")
    for relative in (PARTITION, OTHER_WAVE):
        path = run.version / relative
        path.parent.mkdir(parents=True)
        path.write_bytes(b"PAR1 rows PAR1")
    runs.close_run(run)
    return out


def next_run(out: Path, flow: str = "council-rerun") -> runs.RunContext:
    return runs.open_run(out, flow, {}, "22222222-0000-0000-0000-000000000002")


def test_an_intact_warehouse_passes(tmp_path: Path) -> None:
    out = committed_out(tmp_path)
    runs.check_carried_warehouse(next_run(out))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda path: path.write_bytes(b"PAR1 flipped PAR1"), "differs from its recorded checksum"),
        (lambda path: path.unlink(), "is missing"),
        (lambda path: (path.parent.parent / "gss_code=W06999999").mkdir(), None),
        (
            lambda path: (path.parent / "stray.parquet").write_bytes(b"x"),
            "was not written by any run",
        ),
    ],
    ids=["flipped bytes", "deleted", "empty folder", "stray file"],
)
def test_a_damaged_partition_stops_a_rerun_with_one_line(damage, problem: str | None, tmp_path: Path) -> None:
    out = committed_out(tmp_path)
    damage(out / "current" / PARTITION)  # in place: the committed version shares the file's inode
    run = next_run(out)
    if problem is None:
        runs.check_carried_warehouse(run)  # an empty folder holds nothing that could be read
        return
    with pytest.raises(OutputLayoutError) as stopped:
        runs.check_carried_warehouse(run)
    message = str(stopped.value)
    assert "\n" not in message
    assert problem in message
    assert "wave=2018" in message
    assert "maturity run --wave 2018" in message


def test_a_national_run_rebuilds_its_own_wave_but_not_another(tmp_path: Path) -> None:
    out = committed_out(tmp_path)
    (out / "current" / PARTITION).write_bytes(b"PAR1 flipped PAR1")
    runs.check_carried_warehouse(next_run(out, "national-run"), rebuilt_wave="2018")

    out = committed_out(tmp_path / "second")
    (out / "current" / OTHER_WAVE).write_bytes(b"PAR1 flipped PAR1")
    with pytest.raises(OutputLayoutError, match="maturity run --wave 2017"):
        runs.check_carried_warehouse(next_run(out, "national-run"), rebuilt_wave="2018")


def test_each_committed_run_records_its_whole_warehouse(tmp_path: Path) -> None:
    out = committed_out(tmp_path)
    run = next_run(out)
    runs.close_run(run)  # writes nothing: every file is carried from the first version
    recorded = registry.recorded_warehouse_checksums(run.registry_url, run.run_id)
    assert recorded is not None
    assert sorted(recorded) == sorted([PARTITION, OTHER_WAVE])


def test_a_run_killed_before_it_finished_is_marked_interrupted_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out"
    killed = runs.open_run(out, "national-run", {}, "33333333-0000-0000-0000-000000000003")
    (out / ".run.lock").unlink()  # what a killed process leaves: no live holder
    survivor = runs.open_run(out, "national-run", {}, "44444444-0000-0000-0000-000000000004")
    history = registry.recent_runs(survivor.registry_url, 5).set_index("id")
    assert history.loc[killed.run_id, "status"] == registry.STATUS_FAILED
    assert history.loc[killed.run_id, "message"] == runs.INTERRUPTED_MESSAGE
    assert history.loc[survivor.run_id, "status"] == registry.STATUS_RUNNING
