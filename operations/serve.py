"""`maturity serve`: a local Prefect server, the deployments in prefect.yaml, a process worker and a warm
rerun worker (operations/warm.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

import yaml

from maturity.settings import OFFLINE_ENVIRONMENT, PREFECT_FILE, PROJECT_ROOT, load_operations_config
from operations.files import FILES_ROOT_VARIABLE, FILES_URL_VARIABLE, start_file_server
from operations.prefect_api import api_healthy, prefect_home

SERVER_LOG = "maturity-server.log"
EXIT_SETUP_FAILED = 1
EXIT_USAGE = 2


class ServeError(RuntimeError):
    """A problem setting up the local Prefect stack; the message says what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_SETUP_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class ServeConfig:
    """Where the server listens and where its log goes."""

    host: str
    port: int
    log_dir: Path
    out: Path | None = None  # the OUT whose published files are served for artifact links
    files_port: int | None = None

    @property
    def files_url(self) -> str:
        """Where OUT's reports, open data and Data Docs are served."""
        return f"http://{self.host}:{self.files_port}"

    @property
    def ui_url(self) -> str:
        """The Prefect UI's address."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The Prefect API's address (PREFECT_API_URL for clients)."""
        return f"{self.ui_url}/api"


def serve_config(port: int | None, out: Path | None = None, files_port: int | None = None) -> ServeConfig:
    """Host and ports from config/operations.yaml (overridable), the log beside Prefect's database.

    out: the output folder whose published files are served (default: the deployments' `out: output`,
    which is relative to the repository root, where `prefect deploy` runs).
    """
    settings = load_operations_config().serve
    return ServeConfig(
        settings.host,
        port or settings.port,
        prefect_home(),
        (out or PROJECT_ROOT / settings.out).absolute(),
        files_port or settings.files_port,
    )


def prefect_command(*args: str) -> list[str]:
    """The `prefect` command of this environment (the one beside this Python) with its arguments."""
    return [str(Path(sys.executable).parent / "prefect"), *args]


def work_pools(prefect_file: Path = PREFECT_FILE) -> list[str]:
    """The work pools prefect.yaml's deployments run on, each once, in order of first use."""
    spec = yaml.safe_load(prefect_file.read_text(encoding="utf-8"))
    return list(dict.fromkeys(d["work_pool"]["name"] for d in spec["deployments"]))


def child_environment(config: ServeConfig) -> dict[str, str]:
    """This environment, pointed at the local server, with analytics off."""
    served = (
        {FILES_URL_VARIABLE: config.files_url, FILES_ROOT_VARIABLE: str(config.out)}
        if config.out is not None and config.files_port
        else {}
    )
    return {
        **OFFLINE_ENVIRONMENT,
        **os.environ,
        "PREFECT_API_URL": config.api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **served,
    }


def port_in_use(host: str, port: int) -> bool:
    """Whether something already accepts connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def check_port_free(config: ServeConfig) -> None:
    """The server's ports must be free (another server may already be running there)."""
    for port, option in ((config.port, "--port"), (config.files_port, "--files-port")):
        if port and port_in_use(config.host, port):
            raise ServeError(
                f"port {port} on {config.host} is already in use: stop what uses it or choose "
                f"another with {option}.",
                EXIT_USAGE,
            )


def start_server(config: ServeConfig, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start `prefect server start` on loopback (SQLite in PREFECT_HOME by default)."""
    command = prefect_command(
        "server", "start", "--host", config.host, "--port", str(config.port), "--analytics-off"
    )
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)


def wait_until_healthy(config: ServeConfig, server: subprocess.Popen[bytes]) -> None:
    """Wait for the server's health check; a server that exits or never answers is a clear error."""
    settings = load_operations_config().serve
    deadline = time.monotonic() + settings.start_timeout_seconds
    log = config.log_dir / SERVER_LOG
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServeError(f"the Prefect server stopped (exit code {server.returncode}); see {log}.")
        if api_healthy(config.api_url, timeout_seconds=2):
            return
        time.sleep(settings.health_poll_seconds)
    limit = settings.start_timeout_seconds
    raise ServeError(f"the Prefect server did not answer within {limit} s; see {log}.")


def run_prefect(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run one prefect CLI command from the repository root, without prompts."""
    command = prefect_command("--no-prompt", *args)
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last non-empty line a command printed (its error, usually)."""
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {result.returncode}"


def ensure_work_pool(env: dict[str, str], pool: str) -> bool:
    """Create the process work pool unless it exists; True if it was created."""
    created = run_prefect(env, "work-pool", "create", pool, "--type", "process")
    if created.returncode == 0:
        return True
    if "already exists" in created.stdout + created.stderr:
        return False
    raise ServeError(f"could not create work pool {pool}: {_last_line(created)}")


def deploy_all(env: dict[str, str]) -> None:
    """Create or update every deployment in prefect.yaml (`prefect deploy --all`)."""
    deployed = run_prefect(env, "deploy", "--all", "--prefect-file", str(PREFECT_FILE))
    if deployed.returncode != 0:
        raise ServeError(f"prefect deploy --all failed: {_last_line(deployed)}")


def start_worker(env: dict[str, str], pool: str) -> subprocess.Popen[bytes]:
    """Start a process worker for the pool; its log (the flow runs') goes to this terminal."""
    return subprocess.Popen(prefect_command("worker", "start", "--pool", pool), cwd=PROJECT_ROOT, env=env)


def start_warm_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the warm rerun worker (operations/warm.py, a Prefect task worker); its log goes here too."""
    # The task's own log lines belong to no flow run, which Prefect's API log handler warns about each time.
    quiet_api_log = {"PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore"}
    command = [sys.executable, "-m", "operations.warm"]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env={**env, **quiet_api_log})


def _exited_within(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether the process has exited, waiting up to seconds for it."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def stop(process: subprocess.Popen[bytes], interrupted: bool = False) -> None:
    """Stop a child as Ctrl-C would (SIGINT); kill it if it has not stopped in the configured time.

    interrupted: Ctrl-C in the terminal has already sent the child SIGINT (it shares our process
    group), so it first gets time to stop by itself before a second SIGINT hurries it.
    """
    settings = load_operations_config().serve
    if interrupted and _exited_within(process, settings.interrupt_grace_seconds):
        return
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    if not _exited_within(process, settings.stop_timeout_seconds):
        process.kill()
        process.wait()


def watch(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """Block while every child runs; a child that exits is an error naming it."""
    pause = load_operations_config().serve.watch_seconds
    while True:
        for name, process in children.items():
            if process.poll() is not None:
                raise ServeError(f"the {name} stopped unexpectedly (exit code {process.returncode}).")
        time.sleep(pause)


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop like Ctrl-C, but only this process got the signal, not its children."""


def _interrupt_on_sigterm(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM like Ctrl-C, so children are stopped the same way."""
    raise Terminated


def _start_stack(
    config: ServeConfig,
    log: IO[bytes],
    children: dict[str, subprocess.Popen[bytes]],
    say: Callable[[str], None],
) -> None:
    """Server, then work pool(s), worker(s) and deployments; each child is added to children at once."""
    env = child_environment(config)
    say(f"Starting the Prefect server on {config.ui_url} (log: {config.log_dir / SERVER_LOG}) ...")
    children["Prefect server"] = start_server(config, env, log)
    wait_until_healthy(config, children["Prefect server"])
    if load_operations_config().serve.warm_worker:  # first: its imports overlap the deployments' setup
        children["warm rerun worker"] = start_warm_worker(env)
        say("Warm rerun worker: starting (CLI reruns with PREFECT_API_URL set run there once it is up).")
    pools = work_pools()
    for pool in pools:
        created = ensure_work_pool(env, pool)
        say(f"Work pool {pool}: {'created' if created else 'already there'}.")
    for pool in pools:  # the worker starts up while the deployments are made
        children[f"worker for {pool}"] = start_worker(env, pool)
    deploy_all(env)
    say(f"Deployed everything in {PREFECT_FILE.name}.")
    if config.out is not None and config.files_port:
        say(f"Reports, open data and Data Docs of {config.out}: {config.files_url}/ (artifact links).")
    say(f"Ready. Prefect UI: {config.ui_url}  (PREFECT_API_URL={config.api_url}). Ctrl-C to stop.")


@contextmanager
def _serving_files(config: ServeConfig) -> Iterator[None]:
    """OUT's published files on loopback while the block runs (nothing when no OUT or port is set)."""
    if config.out is None or not config.files_port:
        yield
        return
    server = start_file_server(config.out, config.host, config.files_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def serve(config: ServeConfig, say: Callable[[str], None]) -> None:
    """Run server, work pool(s), deployments and worker(s) until Ctrl-C or SIGTERM; stop children cleanly."""
    check_port_free(config)
    previous = signal.signal(signal.SIGTERM, _interrupt_on_sigterm)
    # Started by `nohup` or a script's `cmd &`, SIGINT arrives ignored and Ctrl-C or `kill -INT` would do
    # nothing: take it back. The children, started after this, then get the default action too.
    previous_interrupt = signal.signal(signal.SIGINT, signal.default_int_handler)
    children: dict[str, subprocess.Popen[bytes]] = {}
    from_terminal = False
    config.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        with (config.log_dir / SERVER_LOG).open("ab") as log, _serving_files(config):
            _start_stack(config, log, children, say)
            watch(children)
    except KeyboardInterrupt as interrupt:
        from_terminal = not isinstance(interrupt, Terminated)
        say("Stopping the worker and the server ...")
    finally:
        for process in reversed(children.values()):
            stop(process, interrupted=from_terminal)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_interrupt)
    say("Stopped.")
