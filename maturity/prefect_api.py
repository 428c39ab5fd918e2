"""The Prefect API a run reports to: the one PREFECT_API_URL names, else a temporary local server.

Prefect starts the same temporary server by itself, but only on a flow's first API call, that is after
the CLI has imported every flow module, and it first imports Prefect's whole server package into this
process (about 3.7 s of CPU) just to launch it. Launching the server's process ourselves, before those
imports, lets its ~7 s start overlap with them: a CLI run is that much shorter. The command and the
environment are the ones Prefect's own temporary server uses (`SubprocessASGIServer`).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from maturity.settings import load_orchestration_config

API_URL_VARIABLE = "PREFECT_API_URL"
UI_URL_VARIABLE = "PREFECT_UI_URL"
# uvicorn exits with 3 when it cannot bind the port (taken between our check and its start): try another.
PORT_TAKEN_EXIT_CODE = 3
# What Prefect sets for its temporary server: no UI, ephemeral mode.
SERVER_ENVIRONMENT = {
    "PREFECT_UI_ENABLED": "0",
    "PREFECT__SERVER_EPHEMERAL": "1",
    "PREFECT__SERVER_FINAL": "1",
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
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]


# Loaded here, not in the child: between fork and exec the child should only make the one system call.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _start_server_process(port: int) -> subprocess.Popen[bytes]:
    """The server's process; on Linux it is stopped even if this process is killed outright."""
    return subprocess.Popen(
        server_command(port),
        env={**os.environ, **SERVER_ENVIRONMENT},
        preexec_fn=_stop_when_parent_dies if _LIBC is not None else None,
    )


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

    @property
    def api_url(self) -> str:
        """The API's address, as PREFECT_API_URL takes it."""
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def launch(cls) -> TemporaryServer:
        """Start the server's process and return at once; wait_until_ready() waits for it."""
        port = free_port()
        return cls(port, _start_server_process(port))

    def wait_until_ready(self, timeout_seconds: float) -> None:
        """Block until the API answers its health check; a server that dies or never answers is an error."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code == PORT_TAKEN_EXIT_CODE:
                self.port = free_port()
                self.process = _start_server_process(self.port)
                point_prefect_at(self.api_url)
                continue
            if code is not None:
                raise PrefectServerError(
                    f"the temporary Prefect server stopped at start (exit code {code}); its messages are "
                    "above. Start one with `prefect server start` and set PREFECT_API_URL to use it instead."
                )
            if self.healthy():
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
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def stop(self) -> None:
        """Stop the server (politely first), if it still runs."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_server: TemporaryServer | None = None


def start_prefect_api() -> TemporaryServer | None:
    """Unless PREFECT_API_URL names a server, launch a temporary one for this process and point it there.

    Returns the server (None when one is configured). It is stopped when this process exits, after
    Prefect has sent its last logs and events (exit handlers run last-registered first). The address goes
    into the environment, so worker processes (process pool, local Dask cluster) report to it too.
    """
    global _server
    if _server is not None:
        return _server
    if os.environ.get(API_URL_VARIABLE):
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
        server.wait_until_ready(float(load_orchestration_config()["temporary_server_startup_seconds"]))
