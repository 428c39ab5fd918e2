"""axe-core in Debian's headless chromium finds no WCAG 2.1 A/AA problems in the English and Welsh reports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tasks.report import render_reports

A11Y_DIR = Path(__file__).resolve().parents[1] / "a11y"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHECK_TIMEOUT_SECONDS = 300
REPORTS = ("W06000004.en.html", "W06000004.cy.html", "national.en.html", "national.cy.html", "index.html")
# The site index is one bilingual page, Welsh first: its root language is Welsh, its English half marked.
PAGE_LANGUAGES = {"index.html": "cy"}
# Rules that only apply to pages with tables and charts (the index has neither).
REPORT_ONLY_RULES = ("th-has-data-cells", "svg-img-alt")


def require_checker() -> str:
    """node with axe-core and playwright-core, and Debian's chromium; or a skip saying what is missing."""
    node = shutil.which("node")
    missing = [
        what
        for what, present in (
            ("node (Debian nodejs)", node is not None),
            ("tests/a11y/node_modules (npm ci)", (A11Y_DIR / "node_modules" / "axe-core").is_dir()),
            (f"{CHROMIUM} (Debian chromium)", Path(CHROMIUM).is_file()),
        )
        if not present
    ]
    if missing:
        pytest.skip(
            f"accessibility check needs {', '.join(missing)}: run scripts/install-report-deps as root"
        )
    return str(node)


def check_pages(node: str, pages: list[str]) -> dict[str, dict]:
    """axe-core's results for each page (tests/a11y/check.mjs in headless chromium), by page path."""
    finished = subprocess.run(
        [node, "check.mjs", *pages],
        cwd=A11Y_DIR,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT_SECONDS,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_reports_have_no_wcag_a_or_aa_violations(scored_demo, tmp_path: Path) -> None:
    node = require_checker()
    render_reports(scored_demo.scores, scored_demo.study, tmp_path, ["W06000004"], pdf=False)
    pages = [str(tmp_path / "reports" / "2018" / name) for name in REPORTS]
    for page in pages[:2]:  # the demo's Denbighshire has auditors' commentary: it is checked too
        assert '<div class="commentary">' in Path(page).read_text(encoding="utf-8")
    results = check_pages(node, pages)
    assert set(results) == set(pages)
    for page, result in results.items():
        assert result["violations"] == [], f"{Path(page).name}: {json.dumps(result['violations'], indent=1)}"
        name = Path(page).name
        assert result["lang"] == PAGE_LANGUAGES.get(name, Path(page).suffixes[0].lstrip("."))
        # The rules the issue names actually ran and passed (not merely absent from the violations).
        for rule in ("html-lang-valid", "heading-order", "color-contrast", *REPORT_ONLY_RULES):
            if name in PAGE_LANGUAGES and rule in REPORT_ONLY_RULES:
                continue
            assert rule in result["passes"], f"{name}: {rule} did not pass"
        if name in PAGE_LANGUAGES:
            assert "valid-lang" in result["passes"], f"{name}: its English half's lang was not checked"
