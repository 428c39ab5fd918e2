"""The temporary Prefect server a CLI run starts early: readiness, a taken port, failures, a set API."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from operations import prefect_api
from operations.prefect_api import PrefectServerError, TemporaryServer

# A stand-in for Prefect's server: answers 200 on /api/health after a short start, on the port it is given.
FAKE_SERVER = textwrap.dedent(
    """
    import http.server, sys, time
    time.sleep(0.3)
    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/api/health" else 404)
            self.end_headers()
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
    """
)


def python(code: str, *args: str) -> list[str]:
    """A command running code in this interpreter."""
    return [sys.executable, "-c", code, *args]


def test_waits_until_the_api_answers_its_health_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prefect_api, "server_command", lambda port: python(FAKE_SERVER, str(port)))
    server = TemporaryServer.launch()
    try:
        assert not server.healthy(), "the stand-in sleeps before it listens"
        server.wait_until_ready(timeout_seconds=20)
        assert server.healthy()
        assert server.api_url == f"http://127.0.0.1:{server.port}/api"
    finally:
        server.stop()
    assert server.process.poll() is not None, "stop() ends the server's process"


def test_a_port_taken_at_start_is_retried_on_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn exits with 3 when another process took the port first: relaunch there and repoint clients."""
    pointed: list[str] = []
    monkeypatch.setattr(prefect_api, "point_prefect_at", pointed.append)
    monkeypatch.setattr(prefect_api, "server_command", lambda port: python(FAKE_SERVER, str(port)))
    first = subprocess.Popen(python("import sys; sys.exit(3)"))
    first.wait()
    server = TemporaryServer(port=1, process=first)
    try:
        server.wait_until_ready(timeout_seconds=20)
        assert server.port != 1
        assert server.healthy()
        assert pointed == [server.api_url]
    finally:
        server.stop()


def test_a_server_that_dies_at_start_is_a_clear_error() -> None:
    process = subprocess.Popen(python("import sys; sys.exit(1)"))
    with pytest.raises(PrefectServerError, match=r"stopped at start \(exit code 1\).*PREFECT_API_URL"):
        TemporaryServer(port=prefect_api.free_port(), process=process).wait_until_ready(timeout_seconds=20)


def test_a_server_that_never_answers_times_out_and_is_stopped() -> None:
    process = subprocess.Popen(python("import time; time.sleep(60)"))
    server = TemporaryServer(port=prefect_api.free_port(), process=process)
    started = time.monotonic()
    with pytest.raises(PrefectServerError, match=r"did not answer within 0\.5 s"):
        server.wait_until_ready(timeout_seconds=0.5)
    assert time.monotonic() - started < 15
    assert process.poll() is not None, "a server that never answered is not left running"


def test_no_server_is_started_when_prefect_api_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    launched: list[object] = []
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    monkeypatch.setattr(prefect_api, "_server", None)
    monkeypatch.setattr(TemporaryServer, "launch", classmethod(lambda cls: launched.append(cls)))
    assert prefect_api.start_prefect_api() is None
    assert launched == []


def test_the_server_command_is_prefects_own_app_on_loopback() -> None:
    from operations import temporary_server

    assert prefect_api.server_command(4321) == [sys.executable, "-m", "operations.temporary_server", "4321"]
    assert temporary_server.APP == "prefect.server.api.server:create_app"
    assert temporary_server.LOOPBACK == "127.0.0.1"


def test_a_server_named_in_prefect_settings_stops_the_speculative_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PREFECT_API_URL may come from a Prefect profile, not the environment: the early server is stopped."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    stopped: list[bool] = []

    class Launched:
        def stop(self) -> None:
            stopped.append(True)

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(prefect_api, "_server", None)
    monkeypatch.setattr(TemporaryServer, "launch", classmethod(lambda cls: Launched()))
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert prefect_api.start_prefect_api() is None
    assert stopped == [True]
    assert prefect_api._server is None


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is a Linux feature")
def test_the_server_stops_even_when_the_cli_is_killed_outright(tmp_path) -> None:
    """SIGKILL runs no exit handler: Linux's parent-death signal still stops the server."""
    import os
    import signal

    launcher = textwrap.dedent(
        f"""
        import sys
        from operations import prefect_api
        prefect_api.server_command = lambda port: [sys.executable, "-c", {FAKE_SERVER!r}, str(port)]
        server = prefect_api.TemporaryServer.launch()
        server.wait_until_ready(20)
        print(server.process.pid, flush=True)
        import time
        time.sleep(60)
        """
    )
    cli = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    assert cli.stdout is not None
    server_pid = int(cli.stdout.readline())
    os.kill(cli.pid, signal.SIGKILL)
    cli.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{server_pid}/stat") as stat:
            if stat.read().split()[2] == "Z":  # exited, waiting for init to reap it
                return
        time.sleep(0.05)
    os.kill(server_pid, signal.SIGKILL)
    raise AssertionError("the server outlived the CLI that started it")


NOISY_SERVER = FAKE_SERVER.replace(
    "time.sleep(0.3)", "time.sleep(0.3)\nprint('Traceback (most recent call last):' * 50, file=sys.stderr)"
)


def test_the_servers_output_goes_to_its_log_never_the_terminal(
    monkeypatch: pytest.MonkeyPatch, tmp_path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Before: the server inherited the CLI's stderr, and its shutdown printed ~150 lines of traceback.
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setattr(prefect_api, "server_command", lambda port: python(NOISY_SERVER, str(port)))
    server = TemporaryServer.launch()
    try:
        server.wait_until_ready(timeout_seconds=20)
        assert server.log_path.parent == tmp_path / "temporary-servers"
        assert "Traceback" in server.log_path.read_text()
    finally:
        server.stop()
    shown = capfd.readouterr()
    assert "Traceback" not in shown.out + shown.err
    assert not server.log_path.exists(), "a server we stopped leaves no log behind"


def test_a_server_that_dies_at_start_keeps_its_log_and_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setattr(
        prefect_api, "server_command", lambda port: python("import sys; print('bad'); sys.exit(1)")
    )
    server = TemporaryServer.launch()
    with pytest.raises(PrefectServerError) as stopped:
        server.wait_until_ready(timeout_seconds=20)
    server.stop()
    assert str(server.log_path) in str(stopped.value)
    assert server.log_path.read_text().strip() == "bad"


def test_a_temporary_server_that_dies_during_the_run_is_reported_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # Before: nothing watched the server; the run went on retrying its API calls for about 6 minutes.
    import threading

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    monkeypatch.setattr(prefect_api, "server_command", lambda port: python(FAKE_SERVER, str(port)))
    server = TemporaryServer.launch()
    server.wait_until_ready(timeout_seconds=20)
    monkeypatch.setattr(prefect_api, "_server", server)
    lost: list[str] = []
    said = threading.Event()
    stop = prefect_api.watch_prefect_api(lambda reason: (lost.append(reason), said.set()))
    try:
        time.sleep(1.5)
        assert lost == [], "a healthy server is not reported"
        server.process.kill()
        killed = time.monotonic()
        assert said.wait(timeout=10)
        assert time.monotonic() - killed < 5
    finally:
        stop()
        server.stop()
    [reason] = lost
    assert "stopped during the run" in reason and str(server.log_path) in reason  # noqa: PT018


def test_a_configured_server_is_lost_only_after_its_grace_period(monkeypatch: pytest.MonkeyPatch) -> None:
    config = prefect_api.load_orchestration_config().model_copy(
        update={"server_lost_seconds": 2, "server_watch_seconds": 0.2}
    )
    monkeypatch.setattr(prefect_api, "load_orchestration_config", lambda: config)
    monkeypatch.setattr(prefect_api, "_server", None)
    answers = iter([True, True] + [False] * 1000)
    monkeypatch.setattr(prefect_api, "api_healthy", lambda url, timeout_seconds=1: next(answers))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    lost: list[float] = []
    started = time.monotonic()
    stop = prefect_api.watch_prefect_api(lambda reason: lost.append(time.monotonic() - started))
    deadline = time.monotonic() + 10
    while not lost and time.monotonic() < deadline:
        time.sleep(0.1)
    stop()
    assert len(lost) == 1
    assert 2 <= lost[0] < 6, "lost after 2 s without an answer, not at the first miss"
