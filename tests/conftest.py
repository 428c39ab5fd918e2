"""Shared fixtures: an isolated, offline Prefect home and demo studies built once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Before anything imports Prefect: a private home (its own SQLite database) and no analytics.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="maturity-prefect-home-")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

from maturity.demo import write_demo_study


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
