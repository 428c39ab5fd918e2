"""The CLI without a flow run: help, every usage error as one line with exit code 2, the exit-code rules."""

from __future__ import annotations

import inspect
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from maturity.settings import PREFECT_FILE, load_operations_config
from operations.cli import EXIT_DATA_ERROR, EXIT_USAGE_ERROR, _exit_if_too_much_quarantined, app
from operations.cli import too_much_quarantined as over_limit
from operations.outcome import file_counts
from operations.serve import work_pools

COMMANDS = ["demo", "run", "rerun", "publish", "status", "serve"]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A CLI runner with a wide terminal, so a long line would show as one line."""
    monkeypatch.setenv("COLUMNS", "300")
    return CliRunner()


def lines(output: str) -> list[str]:
    """The non-empty lines of a command's output."""
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Example: maturity {command}" in result.output


def test_top_level_help_lists_every_command_and_the_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
    assert "Exit codes: 0" in result.output


@pytest.fixture
def empty_out(tmp_path: Path) -> Path:
    """An output folder with no run in it."""
    out = tmp_path / "out"
    out.mkdir()
    return out


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A plain file where a folder is expected."""
    path = tmp_path / "notes.txt"
    path.write_text("not a folder")
    return path


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A loopback port something is already listening on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


USAGE_ERRORS = {
    "unknown option": (["run", "--nope"], "No such option: --nope"),
    "unknown command": (["bogus"], "No such command 'bogus'"),
    "unknown council": (["rerun", "Denbigh"], 'The closest known council is "Denbighshire"'),
    "path as council": (["rerun", "../x"], '"../x" is not a known council'),
    "empty council": (["rerun", ""], '"" is not a known council'),
    "missing council": (["rerun"], "Missing argument 'council'"),
    "bad wave": (["run", "--wave", "1999"], "--wave 1999 does not match the bundled demo study"),
    "wave without value": (["run", "--wave"], "'--wave' requires an argument"),
    "missing inputs folder": (["run", "--inputs", "{tmp}/nowhere"], "no such folder"),
    "inputs without study.yaml": (["run", "--inputs", "{tmp}"], "has no study.yaml"),
    "source without inputs": (["run", "--source", "sqlite:///x.db"], "--source needs --inputs"),
    "quiet and verbose": (["run", "--quiet", "--verbose"], "cannot be used together"),
    "out is a file": (["run", "--out", "{file}"], "is a file, not a folder"),
    "demo out is a file": (["demo", "--out", "{file}"], "is a file, not a folder"),
    "out inside a file": (["run", "--out", "{file}/outputs"], "a file. Give a folder"),
    "bad demo scale": (["demo", "--out", "{tmp}/demo", "--scale", "0"], "Invalid value for '--scale'"),
    "demo scale not a number": (["demo", "--out", "{tmp}/demo", "--scale", "x"], "'--scale'"),
    "demo without out": (["demo"], "Missing option '--out'"),
    "negative demo seed": (["demo", "--out", "{tmp}/demo", "--seed", "-1"], "Invalid value for '--seed'"),
    "rerun missing inputs folder": (["rerun", "W06000004", "--inputs", "{tmp}/nowhere"], "no such folder"),
    "unparsable source": (
        ["run", "--inputs", "{study}", "--source", "not a url:pass@word"],
        "--source is not an SQLAlchemy URL",
    ),
    "unknown source dialect": (["run", "--inputs", "{study}", "--source", "nope://x/y"], "(nope)"),
    "rerun with no national run": (["rerun", "W06000004", "--out", "{out}"], "holds no national run"),
    "rerun source without inputs": (
        ["rerun", "W06000004", "--source", "sqlite:///x.db"],
        "--source needs --inputs",
    ),
    "publish to unknown protocol": (["publish", "--out", "{out}", "--to", "nope://x"], "unknown protocol"),
    "publish to bucketless URL": (["publish", "--out", "{out}", "--to", "s3://"], "no bucket or location"),
    "publish bad release date": (["publish", "--release-date", "2018-13-01"], "is not a date"),
    "run out inside inputs": (["run", "--inputs", "{study}", "--out", "{study}/out"], "is inside --inputs"),
    "rerun out is inputs": (
        ["rerun", "W06000004", "--inputs", "{study}", "--out", "{study}"],
        "is inside --inputs",
    ),
    "publish with no national run": (["publish", "--out", "{out}"], "holds no national run to publish"),
    "publish wave not in out": (["publish", "--out", "{out}", "--wave", "2019"], "holds no national run"),
    "status last zero": (["status", "--last", "0"], "Invalid value for '--last'"),
    "status last huge": (["status", "--last", "99999999999999999999"], "Invalid value for '--last'"),
    "demo scale huge": (["demo", "--out", "{tmp}/demo", "--scale", "99999999999999999999"], "Invalid value"),
    "demo unknown wave": (
        ["demo", "--out", "{tmp}/demo", "--wave", "2019"],
        "the demo study knows waves 2018",
    ),
    "demo wave not a wave": (["demo", "--out", "{tmp}/demo", "--wave", "../x"], "is not a valid wave"),
    "status wave not a wave": (["status", "--wave", "20x8"], "is not a valid wave"),
    "serve bad port": (["serve", "--port", "70000"], "Invalid value for '--port'"),
    "serve port in use": (["serve", "--port", "{port}"], "is already in use"),
    # A hostile review: an escape code in a path reached the terminal raw (and Prefect's database).
    "escape code in out": (["run", "--out", "{tmp}/o\x1b[2Jut"], "--out '"),
    "newline in inputs": (["run", "--inputs", "{tmp}/evil\nSECOND LINE"], "holds a control character"),
    "escape code in status out": (["status", "--out", "{tmp}/o\x1b[31mRED"], "holds a control character"),
    "escape code in rerun out": (["rerun", "W06000004", "--out", "{tmp}/\x1b]8;;x"], "holds a control"),
    "escape code in demo out": (["demo", "--out", "{tmp}/d\x07"], "holds a control character"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_a_usage_error_is_one_actionable_line_and_exit_code_2(
    case: str,
    runner: CliRunner,
    tmp_path: Path,
    empty_out: Path,
    a_file: Path,
    listening_port: int,
) -> None:
    arguments, expected = USAGE_ERRORS[case]
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text("wave: '2018'\n")
    values = {"tmp": tmp_path, "out": empty_out, "file": a_file, "port": listening_port, "study": study}
    result = runner.invoke(app, [a.format(**values) for a in arguments])
    assert result.exit_code == EXIT_USAGE_ERROR, result.output
    assert lines(result.output) == lines(result.stderr), "errors go to stderr, nothing else is printed"
    assert len(lines(result.output)) == 1, result.output
    line = lines(result.output)[0]
    assert line.startswith("Error: ")
    assert expected in line
    assert "Traceback" not in result.output
    assert "pass@word" not in result.output, "a --source URL may hold a password: never echoed"
    assert "\x1b" not in result.output, "no control character is echoed"
    assert "\x07" not in result.output, "no control character is echoed"


def test_an_out_folder_this_user_cannot_write_is_a_usage_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permissions are faked: the tests run as root, whom file modes do not stop."""
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr("operations.preflight.os.access", lambda path, mode: Path(path) != locked)
    result = runner.invoke(app, ["run", "--out", str(locked / "outputs")])
    assert result.exit_code == EXIT_USAGE_ERROR
    assert lines(result.output) == [
        f"Error: --out {locked / 'outputs'}: {locked} is not writable by this user. "
        "Choose a folder you can write in."
    ]


def test_a_message_holding_a_control_character_is_printed_escaped() -> None:
    from operations.failures import one_line

    assert one_line("Stopped: /tmp/evil\x1b[31mRED\nSECOND/x.csv: bad") == (
        "Stopped: /tmp/evil\\x1b[31mRED SECOND/x.csv: bad"
    )
    assert one_line("Sir Ddinbych: ŵ ŷ") == "Sir Ddinbych: ŵ ŷ", "letters are kept"


def test_no_arguments_shows_the_help(runner: CliRunner) -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == EXIT_USAGE_ERROR
    assert "Commands" in result.output
    assert "rerun" in result.output


ACCOUNTING_FRAME = pd.DataFrame(
    {
        "source_file": ["invitations.csv", "responses/leadership.csv", "public_survey.csv"],
        "rows_read": [100, 200, 0],
        "rows_loaded": [95, 189, 0],
        "rows_quarantined": [5, 11, 0],
    }
)
ACCOUNTING = file_counts(ACCOUNTING_FRAME.itertuples())


def test_files_over_the_quarantine_limit_are_named_with_their_counts() -> None:
    assert over_limit(ACCOUNTING, 0.05) == ["responses/leadership.csv (11 of 200 rows)"]
    assert over_limit(ACCOUNTING, 0.04) == [
        "invitations.csv (5 of 100 rows)",
        "responses/leadership.csv (11 of 200 rows)",
    ]
    assert over_limit(ACCOUNTING, 0.1) == []


def test_too_much_quarantined_exits_with_code_1_naming_the_file_and_the_config_key(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert load_operations_config().cli.max_quarantined_share == pytest.approx(0.05)
    with pytest.raises(typer.Exit) as stopped:
        _exit_if_too_much_quarantined(ACCOUNTING)
    assert stopped.value.exit_code == EXIT_DATA_ERROR
    message = capsys.readouterr().err
    assert len(lines(message)) == 1
    assert "responses/leadership.csv (11 of 200 rows)" in message
    assert "max_quarantined_share" in message


def test_a_clean_run_does_not_exit() -> None:
    _exit_if_too_much_quarantined(file_counts(ACCOUNTING_FRAME.assign(rows_quarantined=0).itertuples()))


def test_prefect_yaml_declares_the_three_deployments_on_one_process_pool_without_secrets() -> None:
    spec = yaml.safe_load(PREFECT_FILE.read_text(encoding="utf-8"))
    entrypoints = {d["name"]: d["entrypoint"] for d in spec["deployments"]}
    assert entrypoints == {
        "weekly": "flows/national.py:national_run",
        "on-demand": "flows/rerun.py:council_rerun",
        "release": "flows/publish.py:publish_release",
    }
    assert work_pools() == ["maturity-process"]
    assert all(d["enforce_parameter_schema"] is True for d in spec["deployments"])
    assert "set_working_directory" in str(spec["pull"])
    text = PREFECT_FILE.read_text(encoding="utf-8").lower()
    for secret in ("password", "secret:", "token", "aws_", "postgresql://", "pseudonym_key:"):
        assert secret not in text


def test_the_rerun_flow_has_no_default_council_so_the_deployment_requires_one() -> None:
    from flows.rerun import council_rerun

    council = inspect.signature(council_rerun.fn).parameters["council"]
    assert council.default is inspect.Parameter.empty


def test_a_prefect_server_that_cannot_start_is_one_line_and_exit_code_2(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No PREFECT_API_URL and a temporary server that dies at start: no traceback, nothing run."""
    import subprocess
    import sys

    from operations import prefect_api

    def dying_server(cls: type[prefect_api.TemporaryServer]) -> prefect_api.TemporaryServer:
        return cls(prefect_api.free_port(), subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"]))

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(prefect_api, "_server", None)
    monkeypatch.setattr(prefect_api, "point_prefect_at", lambda url: None)
    monkeypatch.setattr(prefect_api.TemporaryServer, "launch", classmethod(dying_server))
    out = tmp_path / "out"
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # No API in Prefect's settings either (the integration tests' server may be up in this session).
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = runner.invoke(app, ["run", "--out", str(out), "--quiet"])
    assert result.exit_code == EXIT_USAGE_ERROR, result.output
    assert lines(result.stderr) == lines(result.output)
    assert len(lines(result.stderr)) == 1, result.output
    assert "temporary Prefect server stopped at start (exit code 1)" in result.stderr
    assert "Traceback" not in result.output
    assert not (out / "current").exists(), "nothing was run"


def install_hint(extra: str) -> str:
    """What a missing extra's message tells the user to run (maturity/extras.py)."""
    return f"pip install 'maturity[{extra}]' (or uv sync --extra {extra}), then run again."


# An option whose optional extra (pyproject.toml) is missing: the module the extra installs, the command,
# and the one line expected.
MISSING_EXTRAS = {
    "dask runner": (
        "prefect_dask",
        ["run", "--task-runner", "dask"],
        "--task-runner dask needs the dask extra (prefect-dask is not installed): " + install_hint("dask"),
    ),
    "dask runner for a rerun": (
        "prefect_dask",
        ["rerun", "W06000004", "--out", "{out}", "--task-runner", "dask"],
        "--task-runner dask needs the dask extra (prefect-dask is not installed): " + install_hint("dask"),
    ),
    "pdf": (
        "weasyprint",
        ["run", "--pdf"],
        "--pdf needs the pdf extra (weasyprint is not installed): " + install_hint("pdf"),
    ),
    "pdf for a rerun": (
        "weasyprint",
        ["rerun", "W06000004", "--out", "{out}", "--pdf"],
        "--pdf needs the pdf extra (weasyprint is not installed): " + install_hint("pdf"),
    ),
    "s3 target": (
        "s3fs",
        ["publish", "--out", "{out}", "--to", "s3://bucket/open-data"],
        "--to s3:// needs the s3 extra (s3fs is not installed): " + install_hint("s3"),
    ),
    "postgres source": (
        "psycopg",
        ["run", "--inputs", "{study}", "--source", "postgresql+psycopg://analyst:pass@word@db/study"],
        "--source postgresql+psycopg:// needs the postgres extra (psycopg is not installed): "
        + install_hint("postgres"),
    ),
}


@pytest.fixture
def no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail at once if a command gets past its checks: neither a Prefect server nor a flow starts."""

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("the command got past its checks")

    monkeypatch.setattr("operations.cli._launch_prefect_api", started)
    monkeypatch.setattr("operations.cli._run_flow", started)


@pytest.mark.parametrize("case", list(MISSING_EXTRAS))
def test_an_option_whose_extra_is_missing_is_one_line_naming_the_extra_and_exit_code_2(
    case: str,
    runner: CliRunner,
    tmp_path: Path,
    empty_out: Path,
    no_run: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module, arguments, expected = MISSING_EXTRAS[case]
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: import fails, find_spec finds none
    study = tmp_path / "study"
    study.mkdir()
    (study / "study.yaml").write_text("wave: '2018'\n")
    values = {"out": empty_out, "study": study}
    result = runner.invoke(app, [a.format(**values) for a in arguments])
    assert result.exit_code == EXIT_USAGE_ERROR, result.output
    assert lines(result.output) == lines(result.stderr) == [f"Error: {expected}"]
    assert "pass@word" not in result.output


@pytest.mark.parametrize("command", [["run"], ["rerun", "W06000004"], ["publish"], ["status"]])
def test_a_postgres_registry_without_its_extra_is_one_line_and_exit_code_2(
    command: list[str], runner: CliRunner, empty_out: Path, no_run: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.setenv("MATURITY_REGISTRY_URL", "postgresql+psycopg://registrar:s3cret@db/registry")
    result = runner.invoke(app, [*command, "--out", str(empty_out)])
    assert result.exit_code == EXIT_USAGE_ERROR, result.output
    assert lines(result.output) == [
        "Error: MATURITY_REGISTRY_URL postgresql+psycopg:// needs the postgres extra (psycopg is not "
        "installed): " + install_hint("postgres")
    ]
    assert "s3cret" not in result.output


@pytest.mark.parametrize("url", ["garbage", "mysql://root:s3cret@db/registry", "http://x"])
@pytest.mark.parametrize("command", [["run"], ["status"]])
def test_a_registry_url_of_no_known_database_is_one_line_and_exit_code_2(
    url: str,
    command: list[str],
    runner: CliRunner,
    empty_out: Path,
    no_run: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: a traceback from SQLAlchemy, or a missing driver deep in the run."""
    monkeypatch.setenv("MATURITY_REGISTRY_URL", url)
    result = runner.invoke(app, [*command, "--out", str(empty_out)])
    assert result.exit_code == EXIT_USAGE_ERROR, result.output
    assert len(lines(result.output)) == 1
    assert "not an SQLAlchemy URL of SQLite or PostgreSQL" in result.output
    assert "s3cret" not in result.output


def test_an_installed_extra_is_not_refused(
    runner: CliRunner, empty_out: Path, no_run: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the extras installed (make setup), the same options get past the checks to the run."""
    result = runner.invoke(app, ["run", "--out", str(empty_out), "--pdf", "--task-runner", "dask"])
    assert isinstance(result.exception, AssertionError), result.output
