"""Auditors' commentary through the real run: listed in the quality record, and a bad file stops it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from tests.integration.conftest import DemoRun
from tests.integration.test_hostile_cli import lines


def test_the_run_lists_the_commentary_it_shows(demo_run: DemoRun, demo_study: Path) -> None:
    record = pd.read_csv(demo_run.summary.quality_dir / "commentary.csv", dtype=str)
    files = sorted((demo_study / "commentary").rglob("*.md"))
    assert record["source_file"].tolist() == [p.relative_to(demo_study).as_posix() for p in files]
    assert record["sha256"].tolist() == [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    accounting = pd.read_csv(demo_run.summary.quality_dir / "accounting.csv", dtype=str)
    assert not accounting["source_file"].str.contains("commentary").any()  # rows of data only
    page = (demo_run.out / "reports" / "2018" / "W06000015.cy.html").read_text(encoding="utf-8")
    assert "Sylwebaeth yr archwilwyr" in page


def test_commentary_without_its_twin_stops_the_run_in_one_line(study_copy: Path, tmp_path: Path) -> None:
    # In this process, so it is this checkout's code that runs (the installed `maturity` may be another's).
    from flows.national import national_run

    (study_copy / "commentary" / "W06000004" / "data_protection.cy.md").unlink()
    out = tmp_path / "out"

    state = national_run(inputs=study_copy, out=out, return_state=True)

    assert state.is_failed()
    [stopped] = lines(state.message)
    assert "commentary/W06000004/data_protection.en.md: has no Welsh twin" in stopped, stopped
    assert "Traceback" not in stopped
    assert not (out / "current").exists()  # stopped before anything was committed
    assert not (out / "quality").exists() or not list((out / "quality").rglob("accounting.csv"))
