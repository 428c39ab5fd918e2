"""Benchmark: render every council's report and the national report, both languages, as HTML then PDF."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from maturity.demo import write_demo_study
from maturity.settings import load_settings
from tasks.contracts import read_study
from tasks.extract import extract_file, extract_public_survey, extract_responses
from tasks.load import load_warehouse
from tasks.report import print_pdfs, render_reports
from tasks.score import Scores, score_councils, score_national
from tasks.validate import validate_table


def score_demo(folder: Path) -> tuple[Scores, object]:
    """The demo study extracted, validated, loaded and scored with plain functions (no Prefect)."""
    study = read_study(write_demo_study(folder / "study"))
    extracted = [
        extract_file(study, "invitations", "invitations.csv"),
        *[extract_responses(study, tool.id) for tool in load_settings().tools],
        extract_public_survey(study),
        extract_file(study, "population", "population.csv"),
    ]
    validated = [validate_table(table, study) for table in extracted]
    load_warehouse(validated, folder / "warehouse", study.wave)
    score_councils(folder / "warehouse", study.wave)
    return score_national(folder / "warehouse", study.wave), study


def run(workers: int | None = None) -> str:
    """Time HTML for all reports (44 council + 2 national), then PDF for all of them."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        scores, study = score_demo(folder)
        started = time.perf_counter()
        html = render_reports(scores, study, folder / "version", pdf=False)
        html_seconds = time.perf_counter() - started
        started = time.perf_counter()
        pdfs = print_pdfs(html, workers)
        pdf_seconds = time.perf_counter() - started
        pages = sum(1 for _ in folder.rglob("*.pdf"))
    return (
        f"HTML: {len(html)} reports in {html_seconds:.1f} s\n"
        f"PDF:  {len(pdfs)} reports ({pages} files) in {pdf_seconds:.1f} s "
        f"with {workers or os.cpu_count()} worker process(es)"
    )
