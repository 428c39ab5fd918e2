"""Cold processes for the benchmarks: wall time and peak memory of a command, bounded, loud on failure."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from maturity.settings import OFFLINE_ENVIRONMENT

# A cold national run took 65 s on the loaded 2-core machine (issue 19): ten times that is a hang.
COMMAND_TIMEOUT_SECONDS = 900
# Lines of a failed command's output shown, enough for a traceback's end and the CLI's message.
FAILURE_TAIL_LINES = 40
# Variables a cold process must not inherit: a server's address would make it a warm client, and CI
# changes how some libraries print.
NOT_INHERITED = ("PREFECT_API_URL", "CI")

# Runs one command and prints the largest peak memory (KiB) of it and its children: the children's peak
# is a running maximum per process, so each measured command gets a fresh parent of its own. The
# command's output goes to stderr (kept for a failure's message); the wrapper exits with its exit code.
PEAK_OF_CHILD = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], stdout=sys.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)"
)


@dataclass
class Timing:
    what: str
    seconds: float
    peak_mb: float | None = None


class CommandError(RuntimeError):
    """A measured command failed or hung: the benchmark stops rather than report a figure for it."""


def cold_environment(**extra: str) -> dict[str, str]:
    """This environment for a cold process: offline, no server address, no CI, plus extra variables."""
    inherited = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    return {**OFFLINE_ENVIRONMENT, **inherited, **extra}


def output_tail(output: str | bytes | None) -> str:
    """The last lines of a command's output, for the message of its failure."""
    text = output.decode(errors="replace") if isinstance(output, bytes) else output or ""
    return "\n".join(text.splitlines()[-FAILURE_TAIL_LINES:])


def run_bounded(
    what: str, command: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run command in a session of its own; on timeout kill that session (its children too) and fail."""
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise CommandError(f"{what}: no result within {timeout:.0f} s\n{output_tail(stderr)}") from None
    result = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    if result.returncode != 0:
        raise CommandError(f"{what} failed (exit code {result.returncode}):\n{output_tail(stderr or stdout)}")
    return result


def time_command(
    what: str,
    command: list[str],
    env: dict[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT_SECONDS,
    cwd: Path | None = None,
) -> Timing:
    """Wall time and peak memory of one fresh process running command (a failure raises CommandError)."""
    started = time.perf_counter()
    wrapped = [sys.executable, "-c", PEAK_OF_CHILD, *command]
    measured = run_bounded(what, wrapped, env or cold_environment(), timeout, cwd)
    seconds = time.perf_counter() - started
    return Timing(what, seconds, int(measured.stdout.split()[-1]) / 1024)


def maturity_command(*args: str, bin_dir: Path | None = None) -> list[str]:
    """The `maturity` CLI of an environment (default: the one beside this Python) with its arguments."""
    return [str((bin_dir or Path(sys.executable).parent) / "maturity"), *args]


def time_cli(args: list[str]) -> Timing:
    """Wall time and peak memory of one `maturity` process (temporary Prefect server included)."""
    return time_command(" ".join(["maturity", *args[:2]]), maturity_command(*args))
