"""The `maturity` command line: make a demo study, run the national study, publish open data."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from typer._click import exceptions as click_errors  # Typer 0.29 vendors click here
from typer.core import TyperGroup

from maturity.settings import (
    configure_offline_environment,
    load_operations_config,
    load_orchestration_config,
)
from operations.failures import (
    EXIT_DATA_ERROR,
    EXIT_ENVIRONMENT_ERROR,
    EXIT_USAGE_ERROR,
    one_line,
    registry_problem,
    write_problem,
)
from operations.outcome import FileCount, RunOutcome
from operations.preflight import UsageError

EXIT_OK = 0
DEFAULT_OUT = Path("output")  # the same default as the flow's, kept here so --help is instant
# Bounds of two counts, so a huge one is a usage error rather than an overflow deep inside.
MAX_DEMO_SCALE = 1000  # about 3 million answers; the benchmarks go to 100
MAX_STATUS_RUNS = 100_000
EPILOG = (
    "Examples: maturity run  ·  maturity rerun 'Sir Ddinbych'  ·  "
    "maturity publish --to s3://bucket/open-data  ·  maturity serve.  "
    "Exit codes: 0 done; 1 a data problem (a broken file, or more rows quarantined "
    "than config/operations.yaml allows); 2 a usage or configuration error; 3 OUT or the run registry "
    "could not be written (disk full, no permission, a damaged or locked registry). Each command has --help."
)


class OneLineErrors(TyperGroup):
    """Report a usage error (unknown option, bad value ...) as one line and exit code 2, not a box."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; turn click's usage errors into one actionable line."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click_errors.NoArgsIsHelpError as error:
            print(error.ctx.get_help() if error.ctx else str(error))
            sys.exit(EXIT_USAGE_ERROR)
        except click_errors.ClickException as error:
            command = error.ctx.command_path if getattr(error, "ctx", None) else "maturity"
            message = error.format_message().rstrip()
            ending = "" if message.endswith((".", "?", "!")) else "."
            report_error(f"{message}{ending} See `{command} --help`.")
            sys.exit(error.exit_code)
        except typer.Abort:
            report_error("Aborted.")
            sys.exit(EXIT_DATA_ERROR)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


# Python's final collection of every object at exit took 1.2-1.9 s once GX, pandas and Prefect were
# imported. Exit handlers run last-registered first, so by the time this one runs Prefect has flushed its
# logs and events and the temporary server has stopped; gc.freeze then leaves the objects to the OS (no
# garbage cycle is collected after it: none of ours holds an unflushed file).
atexit.register(gc.freeze)

app = typer.Typer(
    cls=OneLineErrors,
    help="Data maturity study pipeline: extract, validate, load, score and publish a national study.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def report_error(message: str, label: str = "Error:") -> None:
    """Print an error as one line on stderr, never wrapped."""
    errors.print(Text.assemble((f"{label} ", "bold red"), one_line(message)), soft_wrap=True, highlight=False)


@contextmanager
def usage_errors() -> Iterator[None]:
    """Turn a failed option check into one line and exit code 2."""
    try:
        yield
    except UsageError as error:
        report_error(str(error))
        raise typer.Exit(EXIT_USAGE_ERROR) from None


class _QuietRunLog(logging.Filter):
    """Drop per-task 'Completed' lines, and tracebacks for problems the user can act on (its line says it)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep a record unless it is a routine 'Completed' line (kept with --verbose)."""
        from maturity.disclosure import DisclosureError
        from maturity.extras import MissingExtraError
        from tasks.contracts import DatasetError
        from warehouse.versions import OutputLayoutError

        error = record.exc_info[1] if record.exc_info else None
        if error is not None and (
            isinstance(error, DatasetError | OutputLayoutError | MissingExtraError | DisclosureError)
            or write_problem(error)
            or registry_problem(error, Path("."))
        ):
            record.exc_info = None
            record.exc_text = None
        return self.verbose or not record.getMessage().startswith("Finished in state Completed")


class _ErrorsOnly(logging.Filter):
    """--quiet: show only errors that are not a flow or task run failing (the CLI reports that itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep errors from Prefect itself; drop everything else."""
        return record.levelno >= logging.ERROR and not record.name.startswith(RUN_LOGGERS)


class _NotShown(logging.Filter):
    """--quiet: drop every record of a logger (SERVICE_LOGGERS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the record."""
        return False


RUN_LOGGERS = ("prefect.task_runs", "prefect.flow_runs")
# Prefect's client services that ship events and logs to the server: with --quiet, their failing to reach
# a server that has gone is not shown (the CLI's one line says the server stopped).
SERVICE_LOGGERS = ("prefect._internal.concurrency",)


def _configure_run_log(verbose: bool, quiet: bool = False) -> None:
    """Set how much of Prefect's run log reaches the terminal."""
    for name in RUN_LOGGERS:
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, _QuietRunLog)]:
            logger.removeFilter(old)
        logger.addFilter(_QuietRunLog(verbose))
    for handler in _prefect_console_handlers():
        for old in [f for f in handler.filters if isinstance(f, _ErrorsOnly)]:
            handler.removeFilter(old)
        if quiet:
            handler.addFilter(_ErrorsOnly())
    for name in SERVICE_LOGGERS:  # a filter: these loggers' level is Prefect's own setting, not setLevel
        service = logging.getLogger(name)
        for old in [f for f in service.filters if isinstance(f, _NotShown)]:
            service.removeFilter(old)
        if quiet:
            service.addFilter(_NotShown())


def _prefect_console_handlers() -> list[logging.Handler]:
    """The handlers that print Prefect's run log on the terminal."""
    from prefect.logging.handlers import PrefectConsoleHandler

    return [h for h in logging.getLogger().handlers if isinstance(h, PrefectConsoleHandler)]


SourceOption = Annotated[
    str | None,
    typer.Option(
        envvar="MATURITY_SOURCE",
        show_envvar=True,
        help="SQLAlchemy URL to read the data from instead of the files in --inputs (which still "
        "holds study.yaml): one table per dataset, see docs/inputs.md.",
    ),
]
FinalOption = Annotated[
    bool,
    typer.Option(
        "--final", help="Render final reports (default: drafts watermarked for factual accuracy check)."
    ),
]
# The choices of --task-runner, from config/orchestration.yaml.
TaskRunner = StrEnum("TaskRunner", {c: c for c in load_orchestration_config().task_runners.choices})
TaskRunnerOption = Annotated[
    TaskRunner,
    typer.Option(
        "--task-runner",
        help="Where tasks run: threads (one process), processes (a local process pool) or dask "
        "(a local Dask cluster, or the scheduler at --dask-address; needs the dask extra).",
    ),
]
DaskAddressOption = Annotated[
    str | None,
    typer.Option("--dask-address", help="Dask scheduler to run tasks on, e.g. tcp://10.0.0.5:8786."),
]
PdfOption = Annotated[
    bool,
    typer.Option(
        "--pdf",
        help="Also print every report to tagged PDF (slower; needs the pdf extra; see docs/outputs.md).",
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Log every task run, and the full error of a failure.")
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only errors and the final one-line result.")
]


def _check_log_options(verbose: bool, quiet: bool) -> None:
    """--verbose and --quiet contradict each other."""
    if verbose and quiet:
        raise UsageError("--verbose and --quiet cannot be used together: choose one.")


def _check_dask_address(task_runner: TaskRunner, dask_address: str | None) -> None:
    """A scheduler address only means something to the Dask task runner."""
    if dask_address and task_runner != TaskRunner.dask:
        raise UsageError("--dask-address goes with --task-runner dask: add it, or drop the address.")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder to write the study into.")],
    seed: Annotated[
        int | None, typer.Option(min=0, help="Random seed (0 or more); the same seed gives the same files.")
    ] = None,
    scale: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_DEMO_SCALE, help="Multiply respondents (and invitations) this many times."
        ),
    ] = 1,
    wave: Annotated[
        str | None,
        typer.Option(
            help="Wave to write, one of the waves in config/demo.yaml (2018, or the 2021 follow-up of the "
            "same councils). Default: config/demo.yaml wave (2018)."
        ),
    ] = None,
) -> None:
    """Write a synthetic demo study folder.

    Example: maturity demo --out studies/demo --seed 7 --scale 10
    Example: maturity demo --out studies/2021 --wave 2021
    """
    from operations.preflight import check_demo_wave, check_out

    with usage_errors():
        check_out(out)
        check_demo_wave(wave)
    from maturity.demo import write_demo_study

    write_demo_study(out, seed=seed, scale=scale, wave=wave)
    console.print(f"Demo study written to [bold]{escape(str(out))}[/bold].")


@app.command()
def run(
    inputs: Annotated[
        Path | None, typer.Option(help="Study folder (see docs/inputs.md). Default: the bundled demo study.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where outputs go.")] = DEFAULT_OUT,
    wave: Annotated[str | None, typer.Option(help="Wave to run; must match study.yaml if given.")] = None,
    source: SourceOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    final: FinalOption = False,
    pdf: PdfOption = False,
    task_runner: TaskRunnerOption = TaskRunner.threads,
    dask_address: DaskAddressOption = None,
) -> None:
    """Run the national study: extract, validate, load, score and publish every council.

    Example: maturity run --inputs studies/2018 --out output
    Example: maturity run --inputs studies/2018 --source sqlite:///studies/2018.db --quiet
    """
    from operations.preflight import (
        check_inputs,
        check_out,
        check_out_apart_from_inputs,
        check_pdf,
        check_registry_url,
        check_task_runner,
        check_wave,
    )

    with usage_errors():
        _check_log_options(verbose, quiet)
        _check_dask_address(task_runner, dask_address)
        check_task_runner(str(task_runner))
        check_pdf(pdf)
        check_registry_url()
        check_inputs(inputs, source)
        check_out(out)
        check_out_apart_from_inputs(out, inputs)
        check_wave(inputs, wave)
    started = time.perf_counter()
    parameters = _flow_parameters(inputs, out, source, final, pdf, task_runner, dask_address)
    _run_flow("flows.national:national_run", {"wave": wave, **parameters}, verbose, quiet, started)


@app.command()
def rerun(
    council: Annotated[
        str, typer.Argument(help="GSS code or any accepted name, e.g. W06000004 or 'Sir Ddinbych'.")
    ],
    inputs: Annotated[
        Path | None,
        typer.Option(
            help="Study folder with the corrected files. Default: the one the last national run used."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder of the national run to update.")] = DEFAULT_OUT,
    source: SourceOption = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
    final: FinalOption = False,
    pdf: PdfOption = False,
    task_runner: TaskRunnerOption = TaskRunner.threads,
    dask_address: DaskAddressOption = None,
) -> None:
    """Rerun one council after corrections: replace its data and report, refresh the national figures.

    Example: maturity rerun "Denbighshire County Council" --inputs studies/2018
    Example: maturity rerun W06000004 --out output --quiet
    """
    from operations.preflight import (
        check_council,
        check_inputs,
        check_national_run_exists,
        check_out,
        check_out_apart_from_inputs,
        check_pdf,
        check_registry_url,
        check_task_runner,
    )

    with usage_errors():
        _check_log_options(verbose, quiet)
        _check_dask_address(task_runner, dask_address)
        check_task_runner(str(task_runner))
        check_pdf(pdf)
        check_registry_url()
        check_council(council)
        check_inputs(inputs, source)
        check_out(out)
        check_out_apart_from_inputs(out, inputs)
        check_national_run_exists(out)
    started = time.perf_counter()
    parameters = _flow_parameters(inputs, out, source, final, pdf, task_runner, dask_address)
    if _rerun_warm(council, parameters, verbose, quiet, started):
        return
    _run_flow("flows.rerun:council_rerun", {"council": council, **parameters}, verbose, quiet, started)


def _rerun_warm(council: str, parameters: dict[str, Any], verbose: bool, quiet: bool, started: float) -> bool:
    """Rerun in `maturity serve`'s warm worker if one is connected (True), else leave it to run here."""
    from operations.prefect_api import named_api_url
    from operations.warm_client import warm_rerun_wanted

    api_url = named_api_url()
    if api_url is None or not warm_rerun_wanted(parameters, verbose, api_url):
        return False
    from operations.warm_client import WarmFailure, WarmRerunError, find_warm_worker, rerun_in_warm_worker

    if not find_warm_worker(api_url):
        return False
    _configure_run_log(verbose, quiet)  # Prefect's line naming the task run, unless --quiet
    if not quiet:
        console.print(
            "Prefect: rerunning in the warm worker of `maturity serve` at PREFECT_API_URL (its log is in "
            "that terminal and the Prefect UI).",
            style="dim",
            soft_wrap=True,
            highlight=False,
        )
    try:
        with _spinner("Running", shown=quiet):
            outcome = rerun_in_warm_worker(council, parameters)
    except WarmRerunError as error:
        report_error(str(error), label="Stopped:")
        raise typer.Exit(EXIT_ENVIRONMENT_ERROR) from None
    if isinstance(outcome, WarmFailure):
        report_error(outcome.text, label=outcome.label)
        raise typer.Exit(outcome.exit_code)
    _report_outcome(outcome, quiet, started)
    return True


def _flow_parameters(
    inputs: Path | None,
    out: Path,
    source: str | None,
    final: bool,
    pdf: bool,
    task_runner: TaskRunner = TaskRunner.threads,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """The parameters the national run and the council rerun share, and where their tasks run."""
    from pydantic import SecretStr

    return {
        "inputs": inputs.resolve() if inputs else None,
        "out": out.resolve(),
        "source": SecretStr(source) if source else None,
        "report_status": "final" if final else "draft",
        "report_pdf": pdf,
        "task_runner": str(task_runner),
        "dask_address": dask_address,
    }


def _run_flow(flow_path: str, parameters: dict[str, Any], verbose: bool, quiet: bool, started: float) -> None:
    """Run the flow at 'module:name' with a quiet log; a user error is one line; print the summary.

    Prefect's server and GX's import (in the validator process, or a thread) start first, so both overlap
    the seconds of importing the flow.
    """
    from tasks.validator import start_validator, stop_validator

    if _validate_in_own_process(parameters):
        start_validator()
    try:
        _run_flow_with_prefect(flow_path, parameters, verbose, quiet, started)
    finally:
        stop_validator()


def _validate_in_own_process(parameters: dict[str, Any]) -> bool:
    """GX in a process of its own only where a core is free for it: threads, and a server already running.

    Measured on 2 cores (benchmarks/RESULTS.md, "Cold start"): against a running server a run took 21.2 s
    with the validator process and 22.9 s without; with a temporary server to start, whose start takes the
    second core for seconds, a third process made the run slower (25.7 s against 23.7 s). Other task
    runners validate in their own worker processes.
    """
    from operations.prefect_api import named_api_url

    return parameters["task_runner"] == TaskRunner.threads.value and named_api_url() is not None


def _run_flow_with_prefect(
    flow_path: str, parameters: dict[str, Any], verbose: bool, quiet: bool, started: float
) -> None:
    """_run_flow once the validator process, if any, is starting."""
    _announce_prefect_api(_launch_prefect_api(), quiet)
    from tasks.validator import validator_running

    if not validator_running():
        from tasks.gx_suites import start_gx_warm_up

        start_gx_warm_up()  # in a thread: it overlaps the server's start, if not the imports
    module, name = flow_path.split(":")
    flow = getattr(importlib.import_module(module), name)
    from flows.runners import run_with_task_runner

    _configure_run_log(verbose, quiet)
    out = parameters["out"]
    with _stop_if_prefect_is_lost(out), _stop_cleanly_on_user_errors(out), _run_display(quiet) as shown:
        summary = run_with_task_runner(shown(flow), **parameters)
    from operations.outcome import outcome_of

    _report_outcome(outcome_of(summary), quiet, started)


def _report_outcome(outcome: RunOutcome, quiet: bool, started: float) -> None:
    """Print a finished run's accounting and result line; exit 1 if too much was quarantined."""
    if not quiet:
        _print_summary(outcome)
    console.print(_result_line(outcome, time.perf_counter() - started), soft_wrap=True, highlight=False)
    _exit_if_too_much_quarantined(outcome.files)


@contextmanager
def _stop_if_prefect_is_lost(out: Path) -> Iterator[None]:
    """While the block runs, a Prefect server that goes away stops the run at once (_stop_lost_run)."""
    from operations.prefect_api import watch_prefect_api

    stop_watching = watch_prefect_api(lambda reason: _stop_lost_run(out, reason))
    try:
        yield
    finally:
        stop_watching()


def _stop_lost_run(out: Path, reason: str) -> None:
    """The run's Prefect server went away: say so in one line, remove the half-built version, exit 3.

    Called from the watching thread. The flow's own thread cannot be stopped from here and every call it
    makes to the server would be retried for minutes, so the process ends at once; nothing of the run
    was committed, and OUT's next run clears anything written after the clean-up (as after a kill).
    """
    from tasks.runs import abandon_own_run

    report_error(
        f"{reason}. The run was stopped and its half-built outputs removed; the previous outputs are "
        "unchanged. Run again.",
        label="Stopped:",
    )
    from tasks.validator import stop_validator

    with contextlib.suppress(Exception):  # the exit below must happen whatever the clean-up meets
        abandon_own_run(out, reason)
    with contextlib.suppress(Exception):  # else it would outlive this process, holding its stdout
        stop_validator()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_ENVIRONMENT_ERROR)


def _launch_prefect_api() -> Any:
    """Launch a temporary Prefect server unless PREFECT_API_URL names one (returned, or None)."""
    configure_offline_environment()
    from operations.prefect_api import start_prefect_api

    return start_prefect_api()


def _announce_prefect_api(server: Any, quiet: bool) -> None:
    """Say which Prefect server the run reports to."""
    if quiet:
        return
    if server is None:
        console.print("Prefect: reporting to the server at PREFECT_API_URL.", style="dim", highlight=False)
    else:
        console.print(
            f"Prefect: starting a temporary server for this run on {server.api_url} (set PREFECT_API_URL "
            "to report to a running server instead, e.g. one from `maturity serve`).",
            style="dim",
            soft_wrap=True,
            highlight=False,
        )


@contextmanager
def _run_display(quiet: bool) -> Iterator[Callable[[Any], Any]]:
    """On a terminal: stage progress bars under the run log, or with --quiet a spinner; else nothing.

    Yields what to do to the flow before running it: the bars need a copy that says when its run starts.
    """
    if quiet or not console.is_terminal:
        with _spinner("Running", shown=quiet):
            yield lambda flow: flow
        return
    from operations.progress import followed, show_run_progress

    with show_run_progress(console, _prefect_console_handlers()):
        yield followed


@contextmanager
def _spinner(message: str, shown: bool) -> Iterator[None]:
    """With --quiet on a terminal, a spinner while the flow runs (otherwise the run log shows progress)."""
    if not shown or not console.is_terminal:
        yield
        return
    with console.status(f"{message} ... (Ctrl-C to stop)"):
        yield


def _result_line(outcome: RunOutcome, seconds: float) -> str:
    """The final one-line result of a run."""
    read, loaded, quarantined = (
        outcome.total(column) for column in ("rows_read", "rows_loaded", "rows_quarantined")
    )
    return (
        f"Done in {seconds:.1f} s: run {outcome.run_id}, wave {outcome.wave}: {read} rows read, "
        f"{loaded} loaded, {quarantined} quarantined; {len(outcome.reports)} reports and "
        f"{len(outcome.open_data)} open-data files under {outcome.reports[0].parent.parent.parent}."
    )


def too_much_quarantined(files: Sequence[FileCount], max_share: float) -> list[str]:
    """Files with more than max_share of their rows quarantined, as 'file (n of m rows)'."""
    return [
        f"{file.source_file} ({file.rows_quarantined} of {file.rows_read} rows)"
        for file in files
        if file.rows_quarantined > max_share * file.rows_read
    ]


def _exit_if_too_much_quarantined(files: Sequence[FileCount]) -> None:
    """Exit with code 1 when a file has more rows quarantined than config/operations.yaml allows."""
    max_share = load_operations_config().cli.max_quarantined_share
    over = too_much_quarantined(files, max_share)
    if over:
        report_error(
            f"more than {max_share:.0%} of the rows were quarantined in {', '.join(over)}: the outputs "
            "were written, but check quarantine.csv and correct the inputs (limit: "
            "cli.max_quarantined_share in config/operations.yaml).",
            label="Data problem:",
        )
        raise typer.Exit(EXIT_DATA_ERROR)


@app.command()
def publish(
    out: Annotated[
        Path, typer.Option(help="Output folder of the national run to publish from.")
    ] = DEFAULT_OUT,
    wave: Annotated[str | None, typer.Option(help="Wave to publish. Default: the latest in OUT.")] = None,
    to: Annotated[
        str | None,
        typer.Option(
            help="Also copy the release here: a folder or any fsspec URL, e.g. s3://bucket/open-data."
        ),
    ] = None,
    release_date: Annotated[
        str | None,
        typer.Option(help="Release date (YYYY-MM-DD). Default: the wave's date in config/open_data.yaml."),
    ] = None,
    verbose: VerboseOption = False,
    quiet: QuietOption = False,
) -> None:
    """Publish the open-data release from the warehouse into OUT/open-data/<wave>/, and copy it with --to.

    Example: maturity publish --out output --to s3://my-bucket/open-data
    Example: maturity publish --wave 2018 --release-date 2018-07-31 --to /srv/portal/open-data
    """
    from operations.preflight import (
        check_out,
        check_registry_url,
        check_release_date,
        check_target_url,
        check_wave_value,
    )

    with usage_errors():
        _check_log_options(verbose, quiet)
        check_registry_url()
        check_out(out)
        check_wave_value(wave)
        check_release_date(release_date)
        check_target_url(to)
    started = time.perf_counter()
    server = _launch_prefect_api()  # first, so its start overlaps the imports; said after the checks
    from flows.publish import publish_release, resolve_publish_wave
    from operations.prefect_api import ensure_prefect_api
    from tasks.contracts import DatasetError

    with usage_errors():
        try:
            resolve_publish_wave(out, wave)
        except DatasetError as error:
            raise UsageError(str(error)) from None
    _announce_prefect_api(server, quiet)
    _configure_run_log(verbose, quiet)
    with (
        _stop_if_prefect_is_lost(out),
        _stop_cleanly_on_user_errors(out),
        _spinner("Publishing", shown=quiet),
    ):
        ensure_prefect_api()
        summary = publish_release(out=out.resolve(), wave=wave, to=to, release_date=release_date)
    if not quiet:
        _print_publish_details(summary)
    state = "new release" if summary.changed else "unchanged, nothing rewritten"
    copied = f"; copied to {summary.target.url}" if summary.target is not None else ""
    console.print(
        f"Done in {time.perf_counter() - started:.1f} s: open data release {summary.version} of wave "
        f"{summary.wave} ({state}) in {summary.folder}{copied}.",
        soft_wrap=True,
        highlight=False,
    )


def _print_publish_details(summary: Any) -> None:
    """What changed in the release and what the copy did."""
    for line in summary.changes:
        console.print(f"  Changes: {line}", highlight=False)
    if summary.target is not None:
        if summary.target.changed:
            console.print(
                f"Copied to {summary.target.url}: {len(summary.target.uploaded)} files uploaded.",
                markup=False,
            )
        else:
            console.print(f"{summary.target.url} already holds this release: nothing uploaded.", markup=False)


@app.command()
def status(
    out: Annotated[Path, typer.Option(help="Output folder whose runs to list.")] = DEFAULT_OUT,
    last: Annotated[int, typer.Option(min=1, max=MAX_STATUS_RUNS, help="How many runs to show.")] = 10,
    wave: Annotated[str | None, typer.Option(help="Show only the runs of this wave, e.g. 2021.")] = None,
) -> None:
    """List the latest runs: status, row accounting and outputs, from the run registry.

    Example: maturity status --out output --last 5
    Example: maturity status --wave 2021
    """
    from maturity.settings import REGISTRY_FILE, REGISTRY_URL_ENV, registry_url
    from operations.preflight import check_path_text, check_registry_url, check_wave_value
    from warehouse.registry import recent_runs

    with usage_errors():
        check_path_text("--out", out)
        check_registry_url()
        check_wave_value(wave)
    if not os.environ.get(REGISTRY_URL_ENV) and not (out / REGISTRY_FILE).is_file():
        console.print(f"No runs recorded for {out} yet (no {out / REGISTRY_FILE}).", markup=False)
        return
    try:
        runs = recent_runs(registry_url(out), last, wave)
    except Exception as error:
        problem = registry_problem(error, out)
        if problem is None:
            raise
        report_error(problem)
        raise typer.Exit(EXIT_ENVIRONMENT_ERROR) from None
    if runs.empty:
        console.print(
            f"No runs of wave {wave} recorded for {out}." if wave else f"No runs recorded for {out} yet.",
            markup=False,
        )
        return
    console.print(status_table(runs, out, wave))


@app.command()
def serve(
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port for the server. Default: serve.port in config/operations.yaml."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder whose reports, open data and Data Docs to serve for artifact links. "
            "Default: output/ in the repository (the deployments' out)."
        ),
    ] = None,
    files_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port those files are served on. Default: serve.files_port (4201)."
        ),
    ] = None,
) -> None:
    """Serve the deployments in prefect.yaml (schedule, rerun, publish) from a local Prefect server.

    Starts `prefect server start` on 127.0.0.1 (SQLite in PREFECT_HOME, analytics off), creates the
    process work pool if missing, deploys prefect.yaml, starts a worker and prints the UI address. OUT's
    reports, open data and Data Docs are served on loopback too, so the runs' artifact links open.
    Runs until Ctrl-C, then stops the worker and the server.

    Example: maturity serve --port 4200
    """
    from operations.preflight import check_path_text
    from operations.serve import ServeError, serve_config
    from operations.serve import serve as serve_stack

    if out is not None:
        with usage_errors():
            check_path_text("--out", out)
    try:
        config = serve_config(port, out, files_port)
        serve_stack(config, lambda line: console.print(line, soft_wrap=True, highlight=False))
    except ServeError as error:
        report_error(str(error))
        raise typer.Exit(error.exit_code) from None


STATUS_COLUMNS = (
    "run",
    "Prefect run",
    "flow",
    "wave",
    "council",
    "status",
    "started (UTC)",
    "secs",
    "read",
    "loaded",
    "quarantined",
    "outputs",
)
NUMERIC_STATUS_COLUMNS = {"secs", "read", "loaded", "quarantined", "outputs"}


def status_table(runs: Any, out: Path, wave: str | None = None) -> Table:
    """The registry's latest runs as a table; any field may be missing (None, or NaN under pandas 3)."""
    table = Table(title=f"Latest runs in {escape(str(out))}" + (f" · wave {wave}" if wave else ""))
    for column in STATUS_COLUMNS:
        table.add_column(column, justify="right" if column in NUMERIC_STATUS_COLUMNS else "left")
    for row in runs.itertuples():
        finished = _known(row.finished_at)
        seconds = (finished - row.started_at).total_seconds() if finished is not None else None
        table.add_row(
            row.id,
            _text(row.prefect_flow_run_name),
            row.flow,
            _text(row.wave),
            _text(row.council),
            _status_text(row.status, _known(row.message)),
            f"{row.started_at:%Y-%m-%d %H:%M:%S}",
            f"{seconds:.1f}" if seconds is not None else "",
            *(_count(v) for v in (row.rows_read, row.rows_loaded, row.rows_quarantined, row.outputs)),
        )
    return table


def _known(value: Any) -> Any:
    """The value, or None where the registry has none (pandas gives None, NaN or NaT)."""
    import pandas as pd

    return None if value is None or pd.isna(value) else value


def _text(value: Any) -> str:
    """A text cell for the status table; empty when unknown."""
    known = _known(value)
    return "" if known is None else str(known)


def _count(value: object) -> str:
    """A count for the status table; empty when unknown."""
    known = _known(value)
    return "" if known is None else str(int(known))


def _status_text(status: str, message: str | None) -> str:
    """A run's status, coloured, with the start of its failure message."""
    if status == "failed" and message:
        first_line = next(iter(str(message).splitlines()), "")
        return f"[red]failed[/red]: {escape(first_line[:120])}"
    return {"completed": "[green]completed[/green]"}.get(status, status)


@contextmanager
def _stop_cleanly_on_user_errors(out: Path | None = None) -> Iterator[None]:
    """An error the user can act on: its one line (operations/failures.py) and exit code; a bug: raised."""
    from operations.failures import describe_failure

    try:
        yield
    except Exception as error:
        failure = describe_failure(error, out)
        if failure is None:
            raise
        report_error(failure.text, label=failure.label)
        raise typer.Exit(failure.exit_code) from None


def _print_summary(summary: RunOutcome) -> None:
    """The per-file accounting table and where the outputs are."""
    table = Table(title=f"Run {summary.run_id} · wave {summary.wave}")
    for column in ("file", "read", "loaded", "quarantined"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for row in summary.files:
        table.add_row(row.source_file, str(row.rows_read), str(row.rows_loaded), str(row.rows_quarantined))
    console.print(table)
    quarantined = summary.total("rows_quarantined")
    if quarantined:
        console.print(
            f"[yellow]{quarantined} row(s) quarantined[/yellow]: "
            f"see {escape(str(summary.quality_dir / 'quarantine.csv'))}"
        )
    console.print(f"Quality record (accounting, quarantine, Data Docs): {summary.quality_dir}", markup=False)
    console.print(f"Reports: {len(summary.reports)} written in {summary.reports[0].parent}", markup=False)
    console.print(f"Open data: {len(summary.open_data)} files in {summary.open_data[0].parent}", markup=False)
