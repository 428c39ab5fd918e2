"""Cold start (issue 19): a plain pandas script against a cold `maturity run` and a council rerun.

Each round times fresh processes one after another on the same demo study: the by-hand pandas script
(benchmarks/by_hand.py), a cold `maturity run` into an empty OUT, and a cold `maturity rerun W06000004`
into that OUT after one answer in Denbighshire's response file was changed. Rounds alternate on one
machine, so the ratios hold where the seconds vary with its load. With --serve, `maturity serve` runs
for the whole benchmark and each round also times the rerun as a client of it; with --fresh-install,
a new environment is installed from the uv cache and its first run is timed against its second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from benchmarks.processes import (
    CommandError,
    Timing,
    cold_environment,
    maturity_command,
    output_tail,
    run_bounded,
    time_command,
)
from maturity.councils import resolve_council
from maturity.demo import write_demo_study
from maturity.settings import PROJECT_ROOT, load_settings, registry_url
from operations.prefect_api import api_healthy

COUNCIL = "W06000004"
RERUN_FLOW = "council-rerun"  # as the registry names the flow
COMPLETED = "completed"
SCRIPT = Path(__file__).with_name("by_hand.py")
# Issue 19's targets: run / script, rerun / run, served rerun / script, first run / later run.
RUN_PER_SCRIPT_TARGET = 4.0
RERUN_PER_RUN_TARGET = 0.34
SERVED_PER_SCRIPT_TARGET = 1.5
FIRST_PER_LATER_TARGET = 1.2
# `maturity serve` took over a minute to be ready on the loaded 2-core machine.
SERVE_START_TIMEOUT_SECONDS = 180
SERVE_STOP_TIMEOUT_SECONDS = 60
HEALTH_POLL_SECONDS = 1
HEALTH_CHECK_TIMEOUT_SECONDS = 2
SERVE_READY_LINE = "Ready."
# An install from the uv cache is a minute or two; ten times that is a hang.
SYNC_TIMEOUT_SECONDS = 1200
UV = ["python3", "-m", "uv"]  # as `make setup` calls it
LOOPBACK = "127.0.0.1"
FRESH_INSTALL_NOTE = (
    "Each install is a copy of the checkout without bytecode, synced from the uv cache into a new "
    "environment, then given a new Prefect home whose database is built as `make setup` builds it "
    "(python -m operations.prefect_database), as a newcomer's is."
)


@dataclass(frozen=True)
class Served:
    """A running `maturity serve`: its process, its API address, its OUT and the client environment."""

    process: subprocess.Popen[bytes]
    api_url: str
    out: Path
    log: Path
    env: dict[str, str]
    ready_seconds: float = 0.0  # from its start to its ready line and a healthy API


def fresh_folder(path: Path) -> Path:
    """An empty folder at path (emptied if it was there)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def find_council_file(study: Path) -> Path:
    """The first response file holding a response from the council (the one file a correction edits)."""
    for path in sorted((study / "responses").glob("*.csv")):
        councils = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["council"])["council"]
        if (councils.map(resolve_council) == COUNCIL).any():
            return path
    raise CommandError(f"no response file in {study / 'responses'} has a response from {COUNCIL}")


@dataclass(frozen=True)
class Correction:
    """One answer changed in one response file of a study copy."""

    file: Path
    description: str


def correct_one_answer(study: Path, which: int) -> Correction:
    """Change one level answer of the council's which-th response to another valid level."""
    path = find_council_file(study)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    settings = load_settings()
    levels = [answer for answer in settings.responses.level_answers if answer != settings.responses.dont_know]
    rows = frame.index[frame["council"].map(resolve_council) == COUNCIL]
    row = rows[which % len(rows)]
    columns = [settings.level_column(characteristic.id) for characteristic in settings.characteristics]
    column = next(c for c in columns if c in frame.columns and frame.at[row, c] in levels)
    old = frame.at[row, column]
    frame.at[row, column] = new = levels[(levels.index(old) + 1) % len(levels)]
    frame.to_csv(path, index=False)
    response = frame.at[row, "response_id"]
    return Correction(path, f"{path.relative_to(study)}, response {response}: {column} {old} → {new}")


def corrected_copy(study: Path, copy: Path, which: int) -> tuple[Path, Correction]:
    """A copy of the study with one answer of the council's corrected."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(study, copy)
    return copy, correct_one_answer(copy, which)


def check_rerun_read(out: Path, correction: Correction) -> None:
    """OUT's last run must be the council's completed rerun of the corrected file: else it timed nothing."""
    from warehouse.registry import RunInput, recent_runs, registry_engine

    url = registry_url(out)
    last = recent_runs(url, 1).iloc[0]
    with registry_engine(url).connect() as connection:
        read = set(connection.execute(sa.select(RunInput.sha256).where(RunInput.run_id == last.id)).scalars())
    digest = hashlib.sha256(correction.file.read_bytes()).hexdigest()
    if (last.flow, last.status, last.council) != (RERUN_FLOW, COMPLETED, COUNCIL) or digest not in read:
        raise CommandError(
            f"{out}: the last run ({last.flow} {last.status}, council {last.council}) is not a completed "
            f"rerun of {COUNCIL} that read {correction.file.name} as corrected (sha256 {digest[:12]}; "
            f"the run {last.id} read {sorted(d[:12] for d in read)})"
        )


def time_rerun(
    corrected: Path, out: Path, correction: Correction, env: dict[str, str] | None = None
) -> Timing:
    """A `maturity rerun` of the council after the correction, checked to have redone the corrected file."""
    command = maturity_command("rerun", COUNCIL, "--inputs", str(corrected), "--out", str(out), "--quiet")
    timing = time_command("maturity rerun", command, env)
    check_rerun_read(out, correction)
    return timing


def time_script(study: Path, folder: Path) -> Timing:
    """The by-hand pandas script as a fresh process (this Python, so the same pandas)."""
    out = fresh_folder(folder / "by-hand")
    return time_command("by-hand script", [sys.executable, str(SCRIPT), str(study), str(out)])


def time_round(
    study: Path, folder: Path, number: int, served: Served | None
) -> tuple[dict[str, Timing], str]:
    """One round: script, cold run into a fresh OUT, cold rerun after a correction (and a served rerun)."""
    out = fresh_folder(folder / "out")
    timings = {"script": time_script(study, folder)}
    timings["run"] = time_command(
        "maturity run", maturity_command("run", "--inputs", str(study), "--out", str(out), "--quiet")
    )
    corrected, correction = corrected_copy(study, folder / "corrected", number)
    timings["rerun"] = time_rerun(corrected, out, correction)
    if served is not None:
        timings["served rerun"] = time_served_rerun(study, folder, number, served)
    return timings, correction.description


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on loopback."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def wait_until_ready(served: Served) -> None:
    """Wait for the server's health check and serve's ready line; a serve that exits or hangs fails."""
    deadline = time.monotonic() + SERVE_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise CommandError(
                f"maturity serve exited ({served.process.returncode}):\n{read_tail(served.log)}"
            )
        ready = SERVE_READY_LINE in served.log.read_text(errors="replace")
        if ready and api_healthy(served.api_url, timeout_seconds=HEALTH_CHECK_TIMEOUT_SECONDS):
            return
        time.sleep(HEALTH_POLL_SECONDS)
    raise CommandError(
        f"maturity serve not ready within {SERVE_START_TIMEOUT_SECONDS} s:\n{read_tail(served.log)}"
    )


def read_tail(log: Path) -> str:
    """The end of a log file, for a failure's message."""
    return output_tail(log.read_text(errors="replace"))


def stop_serve(process: subprocess.Popen[bytes]) -> None:
    """Stop serve as Ctrl-C would; kill its session (server and worker too) if it has not stopped in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=SERVE_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    # Anything serve started and left behind is in its session: only processes this benchmark started.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def serving(folder: Path) -> Iterator[Served]:
    """`maturity serve` on free loopback ports with a private Prefect home, stopped whatever happens."""
    port = free_port()
    home, out, log = folder / "prefect-home", folder / "served-out", folder / "serve.log"
    api_url = f"http://{LOOPBACK}:{port}/api"
    env = cold_environment(PREFECT_HOME=str(home))
    command = maturity_command(
        "serve", "--port", str(port), "--out", str(out), "--files-port", str(free_port())
    )
    started = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        served = Served(process, api_url, out, log, {**env, "PREFECT_API_URL": api_url})
        wait_until_ready(served)
        yield dataclasses.replace(served, ready_seconds=time.perf_counter() - started)
    finally:
        stop_serve(process)


def run_served(study: Path, served: Served) -> Timing:
    """The national run the served reruns update, as a client of the server."""
    command = maturity_command("run", "--inputs", str(study), "--out", str(served.out), "--quiet")
    return time_command("served run", command, served.env)


def time_served_rerun(study: Path, folder: Path, number: int, served: Served) -> Timing:
    """A rerun as a client of `maturity serve` after a one-file correction (a different answer each round)."""
    corrected, correction = corrected_copy(study, folder / "served-corrected", number)
    return time_rerun(corrected, served.out, correction, served.env)


def copy_checkout(checkout: Path) -> Path:
    """The repository's files (tracked and new, not ignored) without bytecode, as a fresh clone has them."""
    listed = run_bounded(
        "git ls-files",
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cold_environment(),
        SYNC_TIMEOUT_SECONDS,
        PROJECT_ROOT,
    )
    for name in filter(None, listed.stdout.split("\0")):
        source, target = PROJECT_ROOT / name, checkout / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return checkout


def time_fresh_install(study: Path, folder: Path, compile_bytecode: bool) -> list[Timing]:
    """Install a fresh checkout's environment from the uv cache, then time its first and second run."""
    checkout = copy_checkout(fresh_folder(folder / "checkout"))
    venv = folder / "venv"
    sync = [*UV, "sync", "--frozen", "--all-extras", "--quiet", *(["--compile-bytecode"] * compile_bytecode)]
    install_env = cold_environment(UV_PROJECT_ENVIRONMENT=str(venv))
    label = "with --compile-bytecode" if compile_bytecode else "without --compile-bytecode"
    timings = [time_command(f"uv sync {label}", sync, install_env, SYNC_TIMEOUT_SECONDS, checkout)]
    # A newcomer has no Prefect home either: `make setup` builds its database after the sync.
    run_env = cold_environment(PREFECT_HOME=str(folder / "prefect-home"))
    prepare = [str(venv / "bin" / "python"), "-m", "operations.prefect_database"]
    timings.append(time_command("Prefect database", prepare, run_env, SYNC_TIMEOUT_SECONDS, checkout))
    for which in ("first", "second"):
        out = fresh_folder(folder / f"out-{which}")
        command = maturity_command(
            "run", "--inputs", str(study), "--out", str(out), "--quiet", bin_dir=venv / "bin"
        )
        timings.append(time_command(f"{which} run", command, run_env))
    return timings


def judged(value: float, target: float, strict: bool = False) -> str:
    """A ratio with whether it meets its target."""
    met = value < target if strict else value <= target
    return f"{value:.2f} ({'meets' if met else 'misses'} {'<' if strict else '≤'} {target})"


def format_rounds(results: list[dict[str, Timing]]) -> list[str]:
    """One row per round and the medians, seconds and ratios."""
    names = list(results[0])
    lines = [
        "| round | "
        + " | ".join(f"{name} (s)" for name in names)
        + " | run / script | rerun / run |"
        + (" served rerun / script |" if "served rerun" in names else ""),
        "| --- " * (len(names) + 3 + ("served rerun" in names)) + "|",
    ]
    rows = [(str(n), {k: t.seconds for k, t in r.items()}) for n, r in enumerate(results, start=1)]
    rows.append(("median", {k: statistics.median(r[k].seconds for r in results) for k in names}))
    for label, seconds in rows:
        ratios = [seconds["run"] / seconds["script"], seconds["rerun"] / seconds["run"]]
        if "served rerun" in seconds:
            ratios.append(seconds["served rerun"] / seconds["script"])
        cells = [f"{seconds[k]:.1f}" for k in names] + [f"{r:.2f}" for r in ratios]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def format_targets(results: list[dict[str, Timing]]) -> list[str]:
    """Issue 19's targets judged on the medians."""
    median = {k: statistics.median(r[k].seconds for r in results) for k in results[0]}
    lines = [
        f"- cold run / script: {judged(median['run'] / median['script'], RUN_PER_SCRIPT_TARGET)}",
        f"- cold rerun / cold run: "
        f"{judged(median['rerun'] / median['run'], RERUN_PER_RUN_TARGET, strict=True)}",
    ]
    if "served rerun" in median:
        ratio = median["served rerun"] / median["script"]
        lines.append(f"- served rerun / script: {judged(ratio, SERVED_PER_SCRIPT_TARGET)}")
    return lines


def format_install(installs: list[list[Timing]]) -> list[str]:
    """The fresh installs: sync and database times, first and second run, first / second."""
    lines = [
        "| install | uv sync (s) | Prefect database (s) | first run (s) | second run (s) | first / second |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for sync, database, first, second in installs:
        ratio = judged(first.seconds / second.seconds, FIRST_PER_LATER_TARGET)
        lines.append(
            f"| {sync.what} | {sync.seconds:.1f} | {database.seconds:.1f} | {first.seconds:.1f} "
            f"| {second.seconds:.1f} | {ratio} |"
        )
    return lines


def format_load(label: str, load: tuple[float, float, float]) -> str:
    """The load average (1, 5, 15 min) at a moment of the benchmark."""
    return f"{label} {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"


@dataclass
class Measured:
    """Everything one benchmark invocation measured, in the order it was measured."""

    rounds: list[dict[str, Timing]]
    changes: list[str]
    served_setup: tuple[float, Timing] | None  # serve's start-up and the national run the reruns update
    installs: list[list[Timing]]
    loads: list[tuple[str, tuple[float, float, float]]]


def measure(rounds: int, serve: bool, fresh_install: bool) -> Measured:
    """The rounds (with serve running through them if asked), then the fresh installs if asked."""
    with tempfile.TemporaryDirectory(prefix="maturity-cold-") as name:
        folder = Path(name)
        study = write_demo_study(folder / "study")
        loads = [("before", os.getloadavg())]
        with serving(folder) if serve else nullcontext() as served:
            setup = (served.ready_seconds, run_served(study, served)) if served else None
            measured = [time_round(study, folder, number, served) for number in range(1, rounds + 1)]
        loads.append(("after the rounds", os.getloadavg()))
        installs = []
        if fresh_install:
            installs = [time_fresh_install(study, folder / f"install-{flag}", flag) for flag in (False, True)]
            loads.append(("after the installs", os.getloadavg()))
    return Measured([t for t, _ in measured], [c for _, c in measured], setup, installs, loads)


def format_report(measured: Measured, flags: str) -> str:
    """The markdown section: every round, the medians, the ratios against the targets, the load."""
    lines = [
        "### Cold start: by-hand pandas script, cold `maturity run`, council rerun",
        "",
        f"{platform.node()} · {os.cpu_count()} cores · Python {platform.python_version()} · "
        f"{time.strftime('%Y-%m-%d %H:%M')} · `python -m benchmarks cold {flags}`",
        "",
        *format_rounds(measured.rounds),
        "",
        "Targets (issue 19), on the medians:",
        *format_targets(measured.rounds),
        "",
        f"Corrections (one answer in one file): {'; '.join(measured.changes)}.",
    ]
    if measured.served_setup is not None:
        lines.append(
            f"`maturity serve` ran through every round: ready in {measured.served_setup[0]:.1f} s; the "
            f"national run the served reruns update took {measured.served_setup[1].seconds:.1f} s "
            "(neither is in the ratios)."
        )
    if measured.installs:
        lines += ["", *format_install(measured.installs), "", FRESH_INSTALL_NOTE]
    loads = "; ".join(format_load(label, load) for label, load in measured.loads)
    lines += ["", f"Load average (1 / 5 / 15 min): {loads}."]
    return "\n".join(lines)


def run(rounds: int, serve: bool, fresh_install: bool) -> str:
    """Measure and return a markdown section: every round, the medians, the ratios against the targets."""
    flags = f"--rounds {rounds}{' --serve' * serve}{' --fresh-install' * fresh_install}"
    return format_report(measure(rounds, serve, fresh_install), flags)
