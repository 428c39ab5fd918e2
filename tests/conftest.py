"""Shared fixtures: an isolated, offline Prefect home and demo studies built once per session."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports Prefect: a private home (its own SQLite database) and no analytics.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="maturity-prefect-home-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from maturity.demo import write_demo_study

# What an in-process CLI run changes for the rest of its process (operations/prefect_api.point_prefect_at).
PREFECT_ADDRESS_VARIABLES = ("PREFECT_API_URL", "PREFECT_UI_URL")


@pytest.fixture(autouse=True)
def isolated_prefect_address() -> Iterator[None]:
    """Undo what an in-process CLI run leaves behind: its temporary server, the address, Prefect's settings.

    A CLI command run with CliRunner starts a temporary server, points os.environ and Prefect's global
    settings at it and keeps it for the life of the process, as a real CLI process does until it exits.
    In a test process that would hand every later test on this worker a server it did not ask for.
    """
    addresses = {name: os.environ.get(name) for name in PREFECT_ADDRESS_VARIABLES}
    settings_context = _global_settings_context()
    yield
    _stop_leftover_temporary_server()
    for name, value in addresses.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if settings_context is not None:
        sys.modules["prefect.context"].GLOBAL_SETTINGS_CONTEXT = settings_context


def _global_settings_context() -> object | None:
    """Prefect's global settings context, if Prefect is imported (this fixture never imports it)."""
    context = sys.modules.get("prefect.context")
    return None if context is None else context.GLOBAL_SETTINGS_CONTEXT


def _stop_leftover_temporary_server() -> None:
    """Stop the temporary server an in-process CLI run started, and forget it."""
    prefect_api = sys.modules.get("operations.prefect_api")
    if prefect_api is None or prefect_api._server is None:
        return
    prefect_api._server.stop()
    prefect_api._server = None


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL of a real PostgreSQL database (started by scripts/start-postgres in `make test`)."""
    url = os.environ.get("MATURITY_TEST_POSTGRES_URL", "")
    if not url:
        pytest.skip(
            "no PostgreSQL server: scripts/start-postgres could not start one "
            "(it needs Debian's postgresql package, or root to install it)"
        )
    return url


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scale-1 demo study, written once for the whole session (treat as read-only)."""
    return write_demo_study(tmp_path_factory.mktemp("demo") / "study")


@pytest.fixture
def study_copy(demo_study: Path, tmp_path: Path) -> Path:
    """A private copy of the demo study that a test may edit."""
    import shutil

    return Path(shutil.copytree(demo_study, tmp_path / "study"))
