"""The real `maturity` command: --quiet prints errors and one result line; exit code 1 for data problems."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from maturity.settings import load_operations_config
from tests.integration.test_national_flow import run_cli

BAD_LEVEL = "9"


def lines(text: str) -> list[str]:
    """The non-empty lines of a command's output."""
    return [line for line in text.splitlines() if line.strip()]


def spoil_rows(path: Path, share: float) -> int:
    """Give a share of a response file's rows an answer no level allows (each row is quarantined)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    count = int(len(frame) * share) + 1
    frame.loc[: count - 1, "lvl_leadership"] = BAD_LEVEL
    frame.to_csv(path, index=False)
    return count


def test_quiet_run_over_the_quarantine_limit_writes_outputs_and_exits_1(
    study_copy: Path, tmp_path: Path
) -> None:
    limit = load_operations_config().cli.max_quarantined_share
    spoiled = spoil_rows(study_copy / "responses" / "leadership.csv", 2 * limit)
    result = run_cli("run", "--inputs", str(study_copy), "--out", str(tmp_path), "--quiet")

    assert result.returncode == 1, result.stdout + result.stderr
    [done] = lines(result.stdout)
    assert done.startswith("Done in ")
    assert f"{spoiled} quarantined" in done
    [problem] = lines(result.stderr)
    assert problem.startswith("Data problem: ")
    assert f"responses/leadership.csv ({spoiled} of " in problem
    assert "INFO" not in result.stdout + result.stderr
    assert (tmp_path / "reports" / "2018" / "W06000004.en.html").is_file()


def test_quiet_data_error_is_one_line(study_copy: Path, tmp_path: Path) -> None:
    (study_copy / "population.csv").unlink()
    result = run_cli("run", "--inputs", str(study_copy), "--out", str(tmp_path), "--quiet")

    assert result.returncode == 1, result.stdout + result.stderr
    assert lines(result.stdout) == []
    [stopped] = lines(result.stderr)
    assert stopped.startswith("Stopped: ")
    assert "population.csv: not found" in stopped
    assert not (tmp_path / "warehouse").exists()
