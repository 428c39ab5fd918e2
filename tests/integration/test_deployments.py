"""`maturity serve` against a real Prefect server: prefect.yaml's deployments, a worker, a council rerun."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from maturity.councils import resolve_council
from maturity.settings import registry_url
from warehouse.registry import recent_runs

DENBIGHSHIRE = "W06000004"
READY_TIMEOUT_SECONDS = 150
RUN_TIMEOUT_SECONDS = 180
PREFECT = str(Path(sys.executable).parent / "prefect")
MATURITY = str(Path(sys.executable).parent / "maturity")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    log: Path
    api_url: str
    env: dict[str, str]


def free_port() -> int:
    """A TCP port nobody listens on at the moment, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_environment(tmp_path: Path, port: int) -> dict[str, str]:
    """The environment for `maturity serve` and prefect commands: a private home, the real server's URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {
        **env,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "COLUMNS": "200",
    }


def wait_for_line(served: Served, text: str, timeout: float) -> None:
    """Wait until `maturity serve` has printed a line containing text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in served.log.read_text(errors="replace"):
            return
        assert served.process.poll() is None, served.log.read_text(errors="replace")
        time.sleep(0.5)
    raise AssertionError(f"no {text!r} after {timeout} s:\n{served.log.read_text(errors='replace')}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`maturity serve` on a free loopback port, in its own process group, killed whatever happens."""
    port = free_port()
    env = serve_environment(tmp_path, port)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                MATURITY,
                "serve",
                "--port",
                str(port),
                "--out",
                str(tmp_path / "out"),
                "--files-port",
                str(free_port()),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield Served(process, log, env["PREFECT_API_URL"], env)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # a server or worker left behind by a failed test
        os.killpg(process.pid, signal.SIGKILL)


def drop_one_officer_response(study: Path, gss_code: str) -> None:
    """Correct the study: remove one of the council's leadership responses (an officers' tool)."""
    path = study / "responses" / "leadership.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    mine = frame.index[frame["council"].map(resolve_council) == gss_code]
    frame.drop(index=mine[0]).to_csv(path, index=False)


def report_cells(out: Path, gss_code: str) -> str:
    """The text of a council's English report, tags stripped, whitespace collapsed."""
    page = (out / "reports" / "2018" / f"{gss_code}.en.html").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def deployments(api_url: str) -> dict[str, dict]:
    """Every deployment on the server, by '<flow>/<deployment>' name."""
    flows = {f["id"]: f["name"] for f in httpx.post(f"{api_url}/flows/filter", json={}).json()}
    found = httpx.post(f"{api_url}/deployments/filter", json={}).json()
    return {f"{flows[d['flow_id']]}/{d['name']}": d for d in found}


def link_artifact_urls(api_url: str, flow_run_id: str) -> list[str]:
    """The addresses of a flow run's link artifacts (Prefect stores each as markdown: [text](url))."""
    found = httpx.post(
        f"{api_url}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}}
    ).json()
    links = [re.fullmatch(r"\[[^\]]*\]\((\S+)\)", artifact["data"] or "") for artifact in found]
    return sorted(link.group(1) for link in links if link)


def shown_in_chromium(url: str) -> str:
    """The page (or folder listing) headless Chromium loads at url, as the UI's link would open it."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout


def is_a_published_page(shown: str) -> bool:
    """Whether a loaded page is a published file or folder, not the files server's refusal."""
    return "<html" in shown.lower() and "not a published file" not in shown.lower()


def prefect(served: Served, *args: str) -> subprocess.Popen[str]:
    """Start a prefect CLI command against the served server."""
    return subprocess.Popen(
        [PREFECT, *args], env=served.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_serve_deploys_prefect_yaml_and_a_worker_runs_a_council_rerun(
    served: Served, study_copy: Path, tmp_path: Path
) -> None:
    from flows.national import national_run

    out = tmp_path / "out"
    national_run(inputs=study_copy, out=out)  # while the server starts: the run a rerun replaces a council in
    assert "Officers 133 67 50%" in report_cells(out, DENBIGHSHIRE)
    before = (out / "reports" / "2018" / f"{DENBIGHSHIRE}.en.html").stat().st_ino
    other_page = out / "reports" / "2018" / "W06000001.en.html"
    other, other_text = other_page.stat().st_ino, other_page.read_bytes()
    drop_one_officer_response(study_copy, DENBIGHSHIRE)

    wait_for_line(served, "Ready. Prefect UI: http://127.0.0.1:", READY_TIMEOUT_SECONDS)
    found = deployments(served.api_url)
    assert set(found) == {"national-run/weekly", "council-rerun/on-demand", "open-data-publish/release"}
    weekly = found["national-run/weekly"]
    assert [s["schedule"]["cron"] for s in weekly["schedules"]] == ["0 6 * * 1"]
    assert weekly["schedules"][0]["schedule"]["timezone"] == "Europe/London"
    assert weekly["global_concurrency_limit"]["limit"] == 1
    assert weekly["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    rerun = found["council-rerun/on-demand"]
    assert rerun["enforce_parameter_schema"] is True
    assert rerun["parameter_openapi_schema"]["required"] == ["council"]
    assert {d["work_pool_name"] for d in found.values()} == {"maturity-process"}
    assert all(d["pull_steps"] for d in found.values())

    refused = prefect(served, "deployment", "run", "council-rerun/on-demand", "--param", f'out="{out}"')
    rerunning = prefect(
        served,
        "deployment",
        "run",
        "council-rerun/on-demand",
        "--param",
        "council=Sir Ddinbych",
        "--param",
        f'out="{out}"',
        "--watch",
        "--watch-timeout",
        str(RUN_TIMEOUT_SECONDS),
    )
    refused_output, _ = refused.communicate(timeout=RUN_TIMEOUT_SECONDS)
    assert refused.returncode == 1, refused_output
    assert "'council' is a required property" in refused_output
    rerun_output, _ = rerunning.communicate(timeout=RUN_TIMEOUT_SECONDS + 30)
    assert rerunning.returncode == 0, rerun_output + served.log.read_text(errors="replace")
    assert "Completed" in rerun_output

    latest = recent_runs(registry_url(out), 1).iloc[0]
    assert latest["flow"] == "council-rerun"
    assert (latest["council"], latest["status"]) == (DENBIGHSHIRE, "completed")
    [flow_run] = httpx.post(
        f"{served.api_url}/flow_runs/filter", json={"flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    ).json()
    assert latest["prefect_flow_run_name"] == flow_run["name"]  # `maturity status` shows the UI's name
    links = link_artifact_urls(served.api_url, flow_run["id"])
    assert len(links) == 3, links  # national report, Data Docs, open data
    for url in links:
        assert f"/.versions/{latest['id']}/" in url or f"/quality/{latest['id']}/" in url, url
        assert is_a_published_page(httpx.get(url).text), url
    # One of them in a browser too (a Chromium start is ~3 s; the three links are served alike).
    assert is_a_published_page(shown_in_chromium(links[0])), links[0]
    assert "Officers 133 66 50%" in report_cells(out, DENBIGHSHIRE)
    assert (out / "reports" / "2018" / f"{DENBIGHSHIRE}.en.html").stat().st_ino != before
    # Another council's page is rewritten only if a Wales figure on it moved.
    assert other_page.stat().st_ino == other or other_page.read_bytes() != other_text

    # An unknown council fails at once with its one line as the run's state message: the flow-level test
    # (test_failure_messages.py) reads it back from the server, without a worker's cold process.

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0, served.log.read_text(errors="replace")
    assert served.log.read_text(errors="replace").rstrip().endswith("Stopped.")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.api_url}/health", timeout=2)
