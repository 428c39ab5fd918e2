"""Auditors' commentary in a run: checked with the study, listed in the quality record, shown in reports."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
from markupsafe import Markup
from prefect import task
from prefect.cache_policies import NONE

from maturity.commentary import (
    CommentaryError,
    CommentaryFile,
    commentary_version,
    read_commentary,
    render_commentary,
)
from tasks.contracts import DatasetError, Study, write_csv_for_people

COMMENTARY_RECORD_FILE = "commentary.csv"
COMMENTARY_RECORD_COLUMNS = ["source_file", "sha256", "bytes", "gss_code", "theme", "language"]


def check_commentary(root: Path) -> list[CommentaryFile]:
    """Every commentary file of the study folder checked, or the run stopped with one line naming one."""
    try:
        return read_commentary(root)
    except CommentaryError as error:
        raise DatasetError(str(error)) from None


@cache
def _rendered(root: Path, version: tuple[tuple[str, int, int], ...]) -> dict[tuple[str, str, str], Markup]:
    """(council, theme, language) -> rendered commentary: read once per version of the files, not per page."""
    return {(f.gss_code, f.theme, f.language): render_commentary(f.text) for f in check_commentary(root)}


def council_commentary(study: Study, gss_code: str, language: str) -> dict[str, Markup]:
    """A council's rendered commentary per theme id in one language (empty when it has none)."""
    rendered = _rendered(study.root, commentary_version(study.root))
    return {
        theme: html for (code, theme, lang), html in rendered.items() if code == gss_code and lang == language
    }


def list_commentary(study: Study) -> pd.DataFrame:
    """The commentary files a run uses, for lineage: path in the study folder, checksum, size and subject."""
    rows = [
        {
            "source_file": f.source_file,
            "sha256": f.sha256,
            "bytes": f.size,
            "gss_code": f.gss_code,
            "theme": f.theme,
            "language": f.language,
        }
        for f in check_commentary(study.root)
    ]
    return pd.DataFrame(rows, columns=COMMENTARY_RECORD_COLUMNS)


def write_commentary_record(study: Study, folder: Path) -> Path:
    """Write the run's commentary listing beside its accounting (OUT/quality/<run_id>/commentary.csv).

    Kept apart from accounting.csv, whose rows balance rows read against rows loaded and quarantined:
    a commentary file has no rows, and its totals would count it as data.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / COMMENTARY_RECORD_FILE
    write_csv_for_people(list_commentary(study), path)
    return path


@task(name="record-commentary", cache_policy=NONE)
def write_commentary_record_task(study: Study, folder: Path) -> Path:
    """Prefect wrapper: list the commentary files the run uses in its quality record."""
    return write_commentary_record(study, folder)
