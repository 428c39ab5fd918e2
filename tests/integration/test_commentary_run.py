"""Auditors' commentary through the real run: listed in the quality record, and a bad file stops the CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from tests.integration.conftest import DemoRun
from tests.integration.test_hostile_cli import lines
from tests.integration.test_national_flow import run_cli
from warehouse.versions import VERSIONS_DIR


def test_the_run_lists_the_commentary_it_shows(demo_run: DemoRun, demo_study: Path) -> None:
    record = pd.read_csv(demo_run.summary.quality_dir / "commentary.csv", dtype=str)
    files = sorted((demo_study / "commentary").rglob("*.md"))
    assert record["source_file"].tolist() == [p.relative_to(demo_study).as_posix() for p in files]
    assert record["sha256"].tolist() == [hashlib.sha256(p.read_bytes()).hexdigest() for p in files]
    accounting = pd.read_csv(demo_run.summary.quality_dir / "accounting.csv", dtype=str)
    assert not accounting["source_file"].str.contains("commentary").any()  # rows of data only
    page = (demo_run.out / "reports" / "2018" / "W06000015.cy.html").read_text(encoding="utf-8")
    assert "Sylwebaeth yr archwilwyr" in page


def test_commentary_without_its_twin_stops_the_cli_in_one_line(study_copy: Path, tmp_path: Path) -> None:
    (study_copy / "commentary" / "W06000004" / "data_protection.cy.md").unlink()
    out = tmp_path / "out"

    result = run_cli("run", "--inputs", str(study_copy), "--out", str(out), "--quiet")

    assert result.returncode == 1, result.stdout + result.stderr
    [stopped] = lines(result.stderr)
    assert "commentary/W06000004/data_protection.en.md: has no Welsh twin" in stopped, stopped
    assert "Traceback" not in result.stdout + result.stderr
    assert not (out / VERSIONS_DIR).exists() or list((out / VERSIONS_DIR).iterdir()) == []
