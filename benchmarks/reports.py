"""Benchmark: render every council's report and the national report, both languages, as HTML then PDF."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from flows.pipeline import Scope, Target, check_inputs, load_and_score, plain_steps
from maturity.demo import write_demo_study
from tasks.contracts import Study
from tasks.report import print_pdfs, render_reports
from tasks.score import Scores
from tasks.study import read_study


def score_demo(folder: Path) -> tuple[Scores, Study]:
    """The demo study checked, loaded and scored by the pipeline's own stages, as plain functions."""
    study = read_study(write_demo_study(folder / "study"))
    target = Target(folder / "version", folder / "quality")
    steps, scope = plain_steps(), Scope.national()
    return load_and_score(steps, check_inputs(steps, study, scope), study, target, scope), study


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
