"""One Prefect test server for every integration test in the session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def prefect_server() -> Iterator[None]:
    """Start Prefect's temporary test server once; it is slow to start (about 6-14 s).

    Flows run with the CLI's settings for local runs (no heartbeat thread, about 1 s less per flow run).
    """
    from prefect.testing.utilities import prefect_test_harness

    from flows.runners import local_run_settings

    with prefect_test_harness(server_startup_timeout=90), local_run_settings():
        yield


@dataclass(frozen=True)
class DemoRun:
    out: Path
    summary: Any  # flows.national's run summary

    def copy_to(self, out: Path) -> Path:
        """A copy of this run's OUT (its links kept relative), for a test that changes OUT or runs into it:
        a national run of the demo study (or a twin of it) without paying for one."""
        shutil.copytree(self.out, out, symlinks=True)
        return out


@pytest.fixture(scope="session")
def demo_run(demo_study: Path, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One national run of the demo study, for the tests that only read what it wrote (treat as read-only:
    a test that changes OUT, or runs into it again, makes a run of its own). Once per session, rather than
    once per test."""
    from flows.national import national_run

    out = tmp_path_factory.mktemp("demo-run") / "out"
    return DemoRun(out, national_run(inputs=demo_study, out=out))
