"""`maturity serve`'s process handling, on small stand-in children (the real stack: test_deployments.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

import pytest

import operations.serve
from maturity.config_models import Operations
from maturity.settings import load_operations_config
from operations.serve import ServeConfig, child_environment, stop

IGNORES_SIGINT = (
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
    "time.sleep(60)"
)
SLEEPS = "import time; print('ready', flush=True); time.sleep(60)"
EXITS_SOON = "import time; print('ready', flush=True); time.sleep(0.5)"


@pytest.fixture
def quick_stops(monkeypatch: pytest.MonkeyPatch) -> Operations:
    """Short stop times, so a test of the kill path takes a second."""
    settings = load_operations_config()
    serve = settings.serve.model_copy(update={"stop_timeout_seconds": 1, "interrupt_grace_seconds": 3})
    quick = settings.model_copy(update={"serve": serve})
    monkeypatch.setattr(operations.serve, "load_operations_config", lambda: quick)
    return quick


def child(code: str) -> subprocess.Popen[bytes]:
    """A Python child running code, once it has said it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    assert process.stdout.readline() == b"ready\n"
    return process


def test_stop_interrupts_a_child_like_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    # A generous stop time: a loaded CI machine can take seconds to tear an interpreter down, and
    # this test is about which signal ends the child, not how fast (the kill test covers timing).
    settings = load_operations_config()
    patient = settings.model_copy(
        update={"serve": settings.serve.model_copy(update={"stop_timeout_seconds": 60})}
    )
    monkeypatch.setattr(operations.serve, "load_operations_config", lambda: patient)
    process = child(SLEEPS)
    started = time.monotonic()
    stop(process)
    assert process.returncode == -signal.SIGINT  # stopped by the interrupt, not killed
    assert time.monotonic() - started < 60


def test_stop_kills_a_child_that_ignores_the_interrupt(quick_stops: Operations) -> None:
    process = child(IGNORES_SIGINT)
    stop(process)
    assert process.returncode == -signal.SIGKILL


def test_after_ctrl_c_a_child_gets_time_to_stop_by_itself(quick_stops: Operations) -> None:
    process = child(EXITS_SOON)
    stop(process, interrupted=True)
    assert process.returncode == 0  # it finished on its own: no second SIGINT


def test_children_talk_to_the_local_server_with_analytics_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://elsewhere:4200/api")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    env = child_environment(ServeConfig("127.0.0.1", 4321, tmp_path))
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


SERVE_WITH_SIGINT_IGNORED = """
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as `nohup` or a script's `cmd &` leaves it
import operations.serve as serve
serve._start_stack = lambda config, log, children, say: say("Ready.")
serve.check_port_free = lambda config: None
config = serve.ServeConfig("127.0.0.1", 1, __import__("pathlib").Path(sys.argv[1]))
serve.serve(config, lambda line: print(line, flush=True))
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_on_sigint_and_sigterm_even_if_it_inherited_sigint_ignored(signum, tmp_path) -> None:
    # Before: started with SIGINT ignored, `maturity serve` could not be stopped with Ctrl-C or kill -INT.
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_WITH_SIGINT_IGNORED, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "Ready."
    process.send_signal(signum)
    try:
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert output.rstrip().endswith("Stopped."), output
