"""A council rerun that kept both survey inputs keeps the weighted Wales survey results rather than raking."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tasks import score
from tasks.score import PUBLIC_SURVEY_INPUTS, score_national


def copied_warehouse(scored_demo, tmp_path: Path) -> Path:
    """A private copy of the scored demo's warehouse (the session fixture is read-only)."""
    return Path(shutil.copytree(scored_demo.warehouse, tmp_path / "warehouse"))


def survey_files(warehouse: Path) -> dict[Path, bytes]:
    """Every stored file of the public survey results, with its bytes."""
    return {
        path: path.read_bytes() for path in sorted((warehouse / "public_survey_results").rglob("*.parquet"))
    }


def test_kept_survey_inputs_give_the_stored_results_without_raking(
    scored_demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = copied_warehouse(scored_demo, tmp_path)
    before = survey_files(warehouse)

    def no_raking(*args: object) -> None:
        raise AssertionError("raked again although neither survey input was re-read")

    monkeypatch.setattr(score, "compute_public_survey_results", no_raking)
    kept = score_national(warehouse, scored_demo.study.wave, PUBLIC_SURVEY_INPUTS)
    pd.testing.assert_frame_equal(
        kept.public_survey_results, scored_demo.scores.public_survey_results, check_exact=True
    )
    assert survey_files(warehouse) == before, "the stored results are left exactly as they were"


@pytest.mark.parametrize("kept", [(), ("public_survey",), ("population",)])
def test_a_re_read_survey_input_rakes_again(scored_demo, tmp_path: Path, kept: tuple[str, ...]) -> None:
    warehouse = copied_warehouse(scored_demo, tmp_path)
    calls: list[object] = []
    original = score.compute_public_survey_results

    def counted(*args: pd.DataFrame) -> pd.DataFrame:
        calls.append(args)
        return original(*args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(score, "compute_public_survey_results", counted)
        again = score_national(warehouse, scored_demo.study.wave, kept)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(again.public_survey_results, scored_demo.scores.public_survey_results)


def test_the_rerun_flow_imports_neither_polars_nor_svy() -> None:
    """Raking's libraries (0.5 s to import) are imported by raking only."""
    import subprocess
    import sys

    check = "import sys, flows.rerun; print('polars' in sys.modules, 'svy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
