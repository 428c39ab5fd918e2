"""The real `maturity` command on hostile inputs: one line, the documented exit code, OUT left clean."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.conftest import DemoRun
from tests.integration.test_national_flow import run_cli
from warehouse.versions import LOCK_FILE, VERSIONS_DIR


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_wave_naming_a_folder_outside_out_stops_and_leaves_it_alone(study_copy: Path, tmp_path: Path) -> None:
    # Before: `wave: /some/folder` made the run rmtree that folder and write its reports into it.
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me", encoding="utf-8")
    spec = yaml.safe_load((study_copy / "study.yaml").read_text(encoding="utf-8"))
    spec["wave"] = str(victim)
    (study_copy / "study.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"

    result = run_cli("run", "--inputs", str(study_copy), "--out", str(out), "--quiet")

    assert result.returncode == 1, result.stdout + result.stderr
    [stopped] = lines(result.stderr)
    assert stopped.startswith("Stopped: "), stopped
    assert "study.yaml wave" in stopped, stopped
    assert "Traceback" not in result.stdout + result.stderr
    assert sorted(p.name for p in victim.iterdir()) == ["precious.txt"]
    assert (victim / "precious.txt").read_text(encoding="utf-8") == "keep me"
    assert not (out / LOCK_FILE).exists()
    assert not (out / VERSIONS_DIR).exists() or list((out / VERSIONS_DIR).iterdir()) == []
    assert not (out / "current").exists()


def test_a_damaged_registry_stops_the_run_with_exit_code_3(study_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "registry.sqlite").write_bytes(b"this is not a database" * 100)

    result = run_cli("run", "--inputs", str(study_copy), "--out", str(out), "--quiet")

    assert result.returncode == 3, f"{result.args} {result.stderr[-400:]}"
    [stopped] = lines(result.stderr)
    assert "registry.sqlite" in stopped, stopped
    assert "mv " in stopped, stopped
    assert "Traceback" not in result.stdout + result.stderr
    assert not (out / LOCK_FILE).exists()


def test_a_damaged_partition_stops_a_rerun_with_one_line(
    demo_run: DemoRun, study_copy: Path, tmp_path: Path
) -> None:
    # Before: the rerun read the damaged partition (or carried it silently into the next version).
    out = tmp_path / "out"
    demo_run.copy_to(out)  # a national run of study_copy's twin, done once
    committed = (out / "current").resolve()
    partition = next((out / "current" / "warehouse" / "answers").glob("wave=2018/gss_code=W06000001/*"))
    partition.write_bytes(partition.read_bytes()[:-40] + b"\x00" * 40)

    result = run_cli("rerun", "Denbighshire", "--inputs", str(study_copy), "--out", str(out), "--quiet")

    assert result.returncode == 1, result.stdout + result.stderr
    [stopped] = lines(result.stderr)
    assert stopped.startswith("Stopped: "), stopped
    assert "gss_code=W06000001" in stopped and "checksum" in stopped, stopped  # noqa: PT018
    assert "maturity run --wave 2018" in stopped, stopped
    assert "Traceback" not in result.stdout + result.stderr
    assert (out / "current").resolve() == committed
    assert not (out / LOCK_FILE).exists()


def children_running(parent: int, marker: str) -> list[int]:
    """Process ids of parent's children whose command line holds marker (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\x00", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == parent and marker in command:
            found.append(int(stat.parent.name))
    return found


def test_a_prefect_server_dying_mid_run_stops_it_at_once_with_one_line(
    study_copy: Path, tmp_path: Path
) -> None:
    # Before: the run went on retrying every call to the dead server, and failed about 6 minutes later.
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    # No PREFECT_API_URL (nor the test server's other settings): the CLI starts its own temporary server.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    maturity = str(Path(sys.executable).parent / "maturity")
    command = [maturity, "run", "--inputs", str(study_copy), "--out", str(out), "--quiet"]
    cli = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240  # the temporary server's first start on a loaded machine
        while not (out / LOCK_FILE).exists() and cli.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cli.poll() is None, cli.communicate()
        [server] = children_running(cli.pid, "operations.temporary_server")
        os.kill(server, signal.SIGKILL)
        killed = time.monotonic()
        stdout, stderr = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert time.monotonic() - killed < 30
    assert cli.returncode == 3, stdout + stderr
    assert len(lines(stderr)) == 1, repr(stderr)
    [stopped] = lines(stderr)
    assert stopped.startswith("Stopped: the temporary Prefect server stopped during the run"), stopped
    assert "Traceback" not in stdout + stderr
    assert not (out / LOCK_FILE).exists()
    assert not (out / "current").exists()
    assert not (out / VERSIONS_DIR).exists() or list((out / VERSIONS_DIR).iterdir()) == []
