"""`maturity status` on every registry state: runs in progress, failed early, reruns, several waves."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from maturity.settings import registry_url
from operations import cli
from operations.cli import app
from warehouse import registry


def registry_with_every_state(out: Path) -> str:
    """A registry holding a completed national run per wave, a rerun, a failure and a run in progress."""
    out.mkdir()
    url = registry_url(out)
    accounting = pd.DataFrame(
        [
            {
                "dataset": "invitations",
                "source_file": "invitations.csv",
                "sha256": "0" * 64,
                "rows_read": 3,
                "rows_loaded": 3,
                "rows_quarantined": 0,
            }
        ]
    )
    quarantine = pd.DataFrame(columns=["dataset", "column", "reason", "source_row"])
    runs = [
        ("20180101T000000-aaaaaaaa", "national-run", "2018", None, "calm-otter"),
        ("20190101T000000-bbbbbbbb", "national-run", "2019", None, "brave-heron"),
        ("20190102T000000-cccccccc", "council-rerun", "2019", "W06000004", "quick-lynx"),
    ]
    for run_id, flow, wave, council, name in runs:
        registry.start_run(
            url, run_id, flow, {}, code_version="t", council=council, prefect_flow_run_name=name
        )
        registry.record_inputs(url, run_id, wave, accounting, quarantine)
        registry.finish_run(url, run_id, [registry.OutputFile("reports/x.html", "0" * 64, 1)])
    registry.start_run(url, "20190103T000000-dddddddd", "council-rerun", {}, code_version="t")
    registry.fail_run(
        url, "20190103T000000-dddddddd", "Stopped: unknown council 'Narnia' [bold]\nsecond line"
    )
    registry.start_run(url, "20190104T000000-eeeeeeee", "national-run", {}, code_version="t")
    return url


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """A console as wide as a desktop terminal: the CLI's console reads COLUMNS once, at import, and
    whichever test imported it first (another, under pytest-xdist) decided its width."""
    monkeypatch.setattr(cli, "console", Console(width=250))


def test_status_lists_every_state_with_prefect_names(tmp_path: Path) -> None:
    # Before: `unable to render float` as soon as a council or wave was missing (NaN under pandas 3).
    out = tmp_path / "out"
    registry_with_every_state(out)
    result = CliRunner().invoke(app, ["status", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    for shown in (
        "calm-otter",
        "brave-heron",
        "quick-lynx",
        "W06000004",
        "2019",
        "unknown council",
        "running",
    ):
        assert shown in result.output, shown
    assert "nan" not in result.output.lower().replace("narnia", "")
    assert "[bold]" in result.output  # a message is text, never markup
    assert "second line" not in result.output


def test_status_wave_shows_only_that_waves_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    registry_with_every_state(out)
    result = CliRunner().invoke(app, ["status", "--out", str(out), "--wave", "2018"])
    assert result.exit_code == 0, result.output
    assert "calm-otter" in result.output
    for other in ("brave-heron", "quick-lynx", "running"):
        assert other not in result.output, other
    assert "wave 2018" in result.output
    none = CliRunner().invoke(app, ["status", "--out", str(out), "--wave", "2021"])
    assert none.exit_code == 0, none.output
    assert f"No runs of wave 2021 recorded for {out}." in " ".join(none.output.split())


def test_status_wave_that_is_not_a_wave_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    out = tmp_path / "out"
    registry_with_every_state(out)
    result = CliRunner().invoke(app, ["status", "--out", str(out), "--wave", "../2018"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "'../2018' is not a valid wave" in result.output
