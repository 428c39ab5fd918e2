"""The `maturity` command line: make a demo study, run the national study."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from maturity.settings import configure_offline_environment

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

        if record.exc_info and isinstance(record.exc_info[1], DatasetError):
            record.exc_info = None
            record.exc_text = None
        return self.verbose or not record.getMessage().startswith("Finished in state Completed")


def _configure_run_log(verbose: bool) -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        for old in [f for f in logger.filters if isinstance(f, _QuietRunLog)]:
            logger.removeFilter(old)
        logger.addFilter(_QuietRunLog(verbose))


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
    source: Annotated[
        str | None,
        typer.Option(
            envvar="MATURITY_SOURCE",
            show_envvar=True,
            help="SQLAlchemy URL to read the data from instead of the files in --inputs (which still "
            "holds study.yaml): one table per dataset, see README.",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every task run.")] = False,
) -> None:
    """Run the national study: extract, validate, load, score and publish every council.

    Example: maturity run --inputs studies/2018 --out output
    Example: maturity run --inputs studies/2018 --source sqlite:///studies/2018.db
    """
    if source and inputs is None:
        console.print("--source needs --inputs: the study folder whose study.yaml describes the wave.")
        raise typer.Exit(EXIT_USAGE_ERROR)
    configure_offline_environment()
    started = time.perf_counter()
    from pydantic import SecretStr

    from flows.national import national_run
    from tasks.contracts import DatasetError
    from tasks.validate import start_warm_up

    _configure_run_log(verbose)
    start_warm_up()
    try:
        summary = national_run(
            inputs=inputs.resolve() if inputs else None,
            out=out.resolve(),
            wave=wave,
            source=SecretStr(source) if source else None,
        )
    except DatasetError as error:
        console.print(f"[bold red]Stopped:[/bold red] {error}", highlight=False)
        console.print("Nothing was loaded or published.")
        raise typer.Exit(EXIT_DATA_ERROR) from None
    _print_summary(summary, time.perf_counter() - started)


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
    console.print(f"Reports: {len(summary.reports)} in {summary.reports[0].parent}")
    console.print(f"Open data: {', '.join(str(p) for p in summary.open_data)}")
    console.print(f"Finished in {seconds:.1f} s.")
