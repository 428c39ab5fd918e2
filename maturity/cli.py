"""The `maturity` command line: make a demo study, run the national study, publish open data."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from maturity.settings import configure_offline_environment, load_orchestration_config

app = typer.Typer(
    help="Data maturity study pipeline: extract, validate, load, score and publish a national study.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
EXIT_DATA_ERROR = 1
EXIT_USAGE_ERROR = 2
DEFAULT_OUT = Path("output")  # the same default as the flow's, kept here so --help is instant


class _QuietRunLog(logging.Filter):
    """Drop per-task 'Completed' lines, and tracebacks for data problems (the message says it all)."""

    def __init__(self, verbose: bool) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        from tasks.contracts import DatasetError
        from warehouse.versions import OutputLayoutError

        if record.exc_info and isinstance(record.exc_info[1], DatasetError | OutputLayoutError):
            record.exc_info = None
            record.exc_text = None
        return self.verbose or not record.getMessage().startswith("Finished in state Completed")


def _configure_run_log(verbose: bool) -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, _QuietRunLog)]:
            logger.removeFilter(old)
        logger.addFilter(_QuietRunLog(verbose))


SourceOption = Annotated[
    str | None,
    typer.Option(
        envvar="MATURITY_SOURCE",
        show_envvar=True,
        help="SQLAlchemy URL to read the data from instead of the files in --inputs (which still "
        "holds study.yaml): one table per dataset, see README.",
    ),
]
FinalOption = Annotated[
    bool,
    typer.Option(
        "--final", help="Render final reports (default: drafts watermarked for factual accuracy check)."
    ),
]
# The choices of --task-runner, from config/orchestration.yaml.
TaskRunner = StrEnum("TaskRunner", {c: c for c in load_orchestration_config()["task_runners"]["choices"]})
TaskRunnerOption = Annotated[
    TaskRunner,
    typer.Option(
        "--task-runner",
        help="Where tasks run: threads (one process), processes (a local process pool) or dask "
        "(a local Dask cluster, or the scheduler at --dask-address).",
    ),
]
DaskAddressOption = Annotated[
    str | None,
    typer.Option("--dask-address", help="Dask scheduler to run tasks on, e.g. tcp://10.0.0.5:8786."),
]
PdfOption = Annotated[
    bool, typer.Option("--pdf", help="Also print every report to tagged PDF (slower; see README, Reports).")
]


def _require_dask_for_address(task_runner: TaskRunner, dask_address: str | None) -> None:
    if dask_address and task_runner != "dask":
        console.print("--dask-address goes with --task-runner dask.")
        raise typer.Exit(EXIT_USAGE_ERROR)


def _require_inputs_with_source(source: str | None, inputs: Path | None) -> None:
    if source and inputs is None:
        console.print("--source needs --inputs: the study folder whose study.yaml describes the wave.")
        raise typer.Exit(EXIT_USAGE_ERROR)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder to write the study into.")],
    seed: Annotated[int | None, typer.Option(help="Random seed; the same seed gives the same files.")] = None,
    scale: Annotated[
        int, typer.Option(min=1, help="Multiply respondents (and invitations) this many times.")
    ] = 1,
) -> None:
    """Write a synthetic demo study folder.

    Example: maturity demo --out studies/demo --seed 7 --scale 10
    """
    from maturity.demo import write_demo_study

    write_demo_study(out, seed=seed, scale=scale)
    console.print(f"Demo study written to [bold]{out}[/bold].")


@app.command()
def run(
    inputs: Annotated[
        Path | None, typer.Option(help="Study folder (see README). Default: the bundled demo study.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where outputs go.")] = DEFAULT_OUT,
    wave: Annotated[str | None, typer.Option(help="Wave to run; must match study.yaml if given.")] = None,
    source: SourceOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every task run.")] = False,
    final: FinalOption = False,
    pdf: PdfOption = False,
    task_runner: TaskRunnerOption = TaskRunner.threads,
    dask_address: DaskAddressOption = None,
) -> None:
    """Run the national study: extract, validate, load, score and publish every council.

    Example: maturity run --inputs studies/2018 --out output
    Example: maturity run --inputs studies/2018 --source sqlite:///studies/2018.db
    """
    _require_inputs_with_source(source, inputs)
    _require_dask_for_address(task_runner, dask_address)
    started = time.perf_counter()
    configure_offline_environment()
    from flows.national import national_run
    from flows.runners import run_with_task_runner

    parameters = _flow_parameters(inputs, out, source, final, pdf, task_runner, dask_address)
    _run_flow(lambda: run_with_task_runner(national_run, wave=wave, **parameters), verbose, started)


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
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every task run.")] = False,
    final: FinalOption = False,
    pdf: PdfOption = False,
    task_runner: TaskRunnerOption = TaskRunner.threads,
    dask_address: DaskAddressOption = None,
) -> None:
    """Rerun one council after corrections: replace its data and report, refresh the national figures.

    Example: maturity rerun "Denbighshire County Council" --inputs studies/2018
    """
    _require_inputs_with_source(source, inputs)
    _require_dask_for_address(task_runner, dask_address)
    started = time.perf_counter()
    configure_offline_environment()
    from flows.rerun import council_rerun
    from flows.runners import run_with_task_runner

    parameters = _flow_parameters(inputs, out, source, final, pdf, task_runner, dask_address)
    _run_flow(lambda: run_with_task_runner(council_rerun, council=council, **parameters), verbose, started)


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


def _run_flow(start_flow: Callable[[], Any], verbose: bool, started: float) -> None:
    """Run a flow with a quiet log and GX warming up; a user error is one line; print the summary."""
    from tasks.validate import start_warm_up

    _configure_run_log(verbose)
    start_warm_up()
    with _stop_cleanly_on_user_errors():
        summary = start_flow()
    _print_summary(summary, time.perf_counter() - started)


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
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every task run.")] = False,
) -> None:
    """Publish the open-data release from the warehouse into OUT/open-data/<wave>/, and copy it with --to.

    Example: maturity publish --out output --to s3://my-bucket/open-data
    """
    configure_offline_environment()
    started = time.perf_counter()
    from flows.publish import publish_release

    _configure_run_log(verbose)
    with _stop_cleanly_on_user_errors():
        summary = publish_release(out=out.resolve(), wave=wave, to=to, release_date=release_date)
    state = "new release" if summary.changed else "unchanged, nothing rewritten"
    console.print(
        f"Open data: release {summary.version} of wave {summary.wave} ({state}) in {summary.folder}"
    )
    for line in summary.changes:
        console.print(f"  Changes: {line}", highlight=False)
    if summary.target is not None:
        if summary.target.changed:
            console.print(f"Copied to {summary.target.url}: {len(summary.target.uploaded)} files uploaded.")
        else:
            console.print(f"{summary.target.url} already holds this release: nothing uploaded.")
    console.print(f"Finished in {time.perf_counter() - started:.1f} s.")


@app.command()
def status(
    out: Annotated[Path, typer.Option(help="Output folder whose runs to list.")] = DEFAULT_OUT,
    last: Annotated[int, typer.Option(min=1, help="How many runs to show.")] = 10,
) -> None:
    """List the latest runs: status, row accounting and outputs, from the run registry.

    Example: maturity status --out output --last 5
    """
    from maturity.settings import REGISTRY_FILE, REGISTRY_URL_ENV, registry_url
    from warehouse.registry import recent_runs

    if not os.environ.get(REGISTRY_URL_ENV) and not (out / REGISTRY_FILE).is_file():
        console.print(f"No runs recorded for {out} yet (no {out / REGISTRY_FILE}).")
        return
    runs = recent_runs(registry_url(out), last)
    if runs.empty:
        console.print(f"No runs recorded for {out} yet.")
        return
    table = Table(title=f"Latest runs in {out}")
    for column in (
        "run",
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
    ):
        table.add_column(
            column,
            justify="right" if column in {"secs", "read", "loaded", "quarantined", "outputs"} else "left",
        )
    for row in runs.itertuples():
        seconds = (row.finished_at - row.started_at).total_seconds() if row.finished_at else None
        table.add_row(
            row.id,
            row.flow,
            row.wave or "",
            row.council or "",
            _status_text(row.status, row.message),
            f"{row.started_at:%Y-%m-%d %H:%M:%S}",
            f"{seconds:.1f}" if seconds is not None else "",
            *(_count(v) for v in (row.rows_read, row.rows_loaded, row.rows_quarantined, row.outputs)),
        )
    console.print(table)


def _count(value: object) -> str:
    return "" if value is None or value != value else str(int(value))


def _status_text(status: str, message: str | None) -> str:
    if status == "failed" and message:
        return f"[red]failed[/red]: {message[:120]}"
    return {"completed": "[green]completed[/green]"}.get(status, status)


@contextmanager
def _stop_cleanly_on_user_errors() -> Iterator[None]:
    """Turn a data or output-folder problem into one clear line and exit code 1, not a traceback."""
    from tasks.contracts import DatasetError
    from warehouse.versions import OutputLayoutError

    try:
        yield
    except (DatasetError, OutputLayoutError) as error:
        console.print(f"[bold red]Stopped:[/bold red] {error}", highlight=False)
        console.print("Nothing was loaded or published; the previous outputs are unchanged.")
        raise typer.Exit(EXIT_DATA_ERROR) from None


def _print_summary(summary, seconds: float) -> None:
    table = Table(title=f"Run {summary.run_id} · wave {summary.wave}")
    for column in ("file", "read", "loaded", "quarantined"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for row in summary.accounting.itertuples():
        table.add_row(row.source_file, str(row.rows_read), str(row.rows_loaded), str(row.rows_quarantined))
    console.print(table)
    quarantined = int(summary.accounting["rows_quarantined"].sum())
    if quarantined:
        console.print(
            f"[yellow]{quarantined} row(s) quarantined[/yellow]: see {summary.quality_dir / 'quarantine.csv'}"
        )
    console.print(f"Quality record (accounting, quarantine, Data Docs): {summary.quality_dir}")
    console.print(f"Reports: {len(summary.reports)} written in {summary.reports[0].parent}")
    console.print(f"Open data: {len(summary.open_data)} files in {summary.open_data[0].parent}")
    console.print(f"Finished in {seconds:.1f} s.")
