"""The Prefect API a run reports to: the one PREFECT_API_URL names, else a temporary local server.

Prefect starts the same temporary server by itself, but only on a flow's first API call, that is after
the CLI has imported every flow module, and it first imports Prefect's whole server package into this
process (about 3.7 s of CPU) just to launch it. Launching the server's process ourselves, before those
imports, lets its ~7 s start overlap with them: a CLI run is that much shorter. The app, its options
and its environment are those of Prefect's own temporary server (`SubprocessASGIServer`), less two
start-up steps a run does not need (operations/temporary_server.py).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from maturity.settings import load_orchestration_config

API_URL_VARIABLE = "PREFECT_API_URL"
UI_URL_VARIABLE = "PREFECT_UI_URL"
# uvicorn exits with 3 when it cannot bind the port (taken between our check and its start): try another.
PORT_TAKEN_EXIT_CODE = 3
# What Prefect sets for its temporary server: no UI, ephemeral mode.
PREFECT_SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
}
# And no block type registration: nothing a run does needs it, and even memoised it imports every
# installed collection (operations/temporary_server.py says more).
SERVER_ENVIRONMENT = {
    **PREFECT_SERVER_ENVIRONMENT,
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
POLL_SECONDS = 0.05
PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal for the child when its parent dies
STOP_SECONDS = 10


class PrefectServerError(RuntimeError):
    """The temporary Prefect server could not be started."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_command(port: int) -> list[str]:
    """The command that serves Prefect's API on loopback, as Prefect's temporary server does."""
    return [sys.executable, "-m", "operations.temporary_server", str(port)]


# Loaded here, not in the child: between fork and exec the child should only make the one system call.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def prefect_home() -> Path:
    """Prefect's home folder (its database, and our temporary servers' logs)."""
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def server_log_path(port: int) -> Path:
    """Where the temporary server on this port writes everything it prints (never the user's screen)."""
    return prefect_home() / "temporary-servers" / f"{port}.log"


def _start_server_process(port: int) -> tuple[subprocess.Popen[bytes], IO[bytes]]:
    """The server's process, printing to its log file; on Linux it stops even if we are killed outright.

    Its output never reaches the terminal: on a loaded machine its shutdown alone printed about 150 lines
    of traceback after the run's own last line.
    """
    log_path = server_log_path(port)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("wb")
    process = subprocess.Popen(
        server_command(port),
        env={**os.environ, **SERVER_ENVIRONMENT},
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_stop_when_parent_dies if _LIBC is not None else None,
    )
    return process, log


def _stop_when_parent_dies() -> None:
    """Run in the server's process before it starts: ask Linux to send it SIGTERM when we die.

    Exit handlers do not run after a SIGKILL or a crash, and a server left behind would hold its port
    and its database open.
    """
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class TemporaryServer:
    """A Prefect API server in a child process, stopped when this process exits."""

    port: int
    process: subprocess.Popen[bytes] = field(repr=False)
    log: IO[bytes] | None = field(default=None, repr=False)  # the file its output goes to
    ready: bool = False  # it has answered once: from then on, its process ending means it is lost

    @property
    def api_url(self) -> str:
        """The API's address, as PREFECT_API_URL takes it."""
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return server_log_path(self.port)

    @classmethod
    def launch(cls) -> TemporaryServer:
        """Start the server's process and return at once; wait_until_ready() waits for it."""
        port = free_port()
        return cls(port, *_start_server_process(port))

    def _relaunch(self) -> None:
        """Start again on another port (the one chosen was taken before the server could bind it)."""
        self._close_log(keep=False)
        self.port = free_port()
        self.process, self.log = _start_server_process(self.port)

    def wait_until_ready(self, timeout_seconds: float) -> None:
        """Block until the API answers its health check; a server that dies or never answers is an error."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code == PORT_TAKEN_EXIT_CODE:
                self._relaunch()
                point_prefect_at(self.api_url)
                continue
            if code is not None:
                raise PrefectServerError(
                    f"the temporary Prefect server stopped at start (exit code {code}); its log is "
                    f"{self.log_path}. Start one with `prefect server start` and set PREFECT_API_URL to use "
                    "it instead."
                )
            if self.healthy():
                self.ready = True
                return
            time.sleep(POLL_SECONDS)
        self.stop()
        raise PrefectServerError(
            f"the temporary Prefect server did not answer within {timeout_seconds:g} s: raise "
            "temporary_server_startup_seconds in config/orchestration.yaml, or set PREFECT_API_URL to a "
            "running server (`maturity serve`)."
        )

    def healthy(self) -> bool:
        """Whether the API answers its health check now."""
        return api_healthy(self.api_url)

    def stop(self) -> None:
        """Stop the server (politely first) if it still runs; keep its log only if it stopped by itself."""
        if self.process.poll() is not None:
            self._close_log(keep=True)
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._close_log(keep=False)

    def _close_log(self, keep: bool) -> None:
        """Close the server's log file; remove it unless it may say why the server stopped."""
        if self.log is not None:
            self.log.close()
            if not keep:
                self.log_path.unlink(missing_ok=True)


def api_healthy(api_url: str, timeout_seconds: float = 1) -> bool:
    """Whether the Prefect API at api_url answers its health check now (never through a proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{api_url}/health", timeout=timeout_seconds) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


_server: TemporaryServer | None = None


def named_api_url() -> str | None:
    """The Prefect API the environment names (a profile's is not read: that needs Prefect imported)."""
    return os.environ.get(API_URL_VARIABLE) or None


def start_prefect_api() -> TemporaryServer | None:
    """Unless PREFECT_API_URL names a server, launch a temporary one for this process and point it there.

    Returns the server (None when one is configured). It is stopped when this process exits, after
    Prefect has sent its last logs and events (exit handlers run last-registered first). The address goes
    into the environment, so worker processes (process pool, local Dask cluster) report to it too.
    """
    global _server
    if _server is not None:
        return _server
    if named_api_url():
        return None
    # Launched before Prefect is imported (about 2 s), so that import overlaps the server's start too;
    # stopped again if Prefect's settings (a profile, prefect.toml) name a server after all.
    server = TemporaryServer.launch()
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        server.stop()
        return None
    _server = server
    atexit.register(_server.stop)
    point_prefect_at(_server.api_url)
    return _server


def point_prefect_at(api_url: str) -> None:
    """Send this process's Prefect clients, and the processes it starts, to our temporary server at api_url.

    It serves no UI, so Prefect's UI address is set empty (unless the user set one): Prefect then prints
    no "View at" links, which would be dead.
    """
    from prefect.context import refresh_global_settings_context

    os.environ[API_URL_VARIABLE] = api_url
    os.environ.setdefault(UI_URL_VARIABLE, "")
    refresh_global_settings_context()  # Prefect read its settings from the environment when imported


def ensure_prefect_api() -> None:
    """Make sure a Prefect API answers before a flow starts: the configured one, or ours once it is up."""
    server = start_prefect_api()
    if server is not None:
        server.wait_until_ready(load_orchestration_config().temporary_server_startup_seconds)


def lost_server_reason(
    server: TemporaryServer | None, api_url: str, unanswered_since: float | None, lost_after: float
) -> str | None:
    """Why the run's Prefect API is gone, or None while it is there (unanswered_since: monotonic time)."""
    if server is not None:
        code = server.process.poll()
        if code is None or not server.ready:
            return None  # a server that dies while starting is wait_until_ready's to report
        return (
            f"the temporary Prefect server stopped during the run (exit code {code}; its log is "
            f"{server.log_path})"
        )
    if unanswered_since is None:
        return None
    silent = time.monotonic() - unanswered_since
    if silent < lost_after:
        return None
    return f"the Prefect server at {api_url} has not answered for {silent:.0f} s"


def watch_prefect_api(on_lost: Callable[[str], None]) -> Callable[[], None]:
    """Watch the run's Prefect API from a thread and call on_lost(reason) once if it goes away.

    Without this a run whose server died went on for minutes, each API call retried with back-off, and
    then failed far from the cause. A temporary server is lost the moment its process ends; a configured
    one after server_lost_seconds (config/orchestration.yaml) without an answer. Returns stop().
    """
    stopped = threading.Event()
    config = load_orchestration_config()  # read once: the thread checks every interval
    interval, lost_after = config.server_watch_seconds, config.server_lost_seconds
    api_url = os.environ.get(API_URL_VARIABLE, "")

    def watch() -> None:
        unanswered_since: float | None = None
        answered = False  # a configured server is judged only once it has answered
        while not stopped.wait(interval):
            if _server is None:
                healthy = api_healthy(api_url, timeout_seconds=interval)
                answered = answered or healthy
                unanswered_since = None if healthy or not answered else (unanswered_since or time.monotonic())
            reason = lost_server_reason(_server, api_url, unanswered_since, lost_after)
            if reason is not None and not stopped.is_set():
                on_lost(reason)
                return

    thread = threading.Thread(target=watch, name="prefect-api-watch", daemon=True)
    thread.start()

    def stop() -> None:
        stopped.set()
        with contextlib.suppress(RuntimeError):
            thread.join(timeout=interval + 1)

    return stop
