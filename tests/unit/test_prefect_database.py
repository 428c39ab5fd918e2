"""The temporary server skips the migration check only for a database provably at this Prefect's head."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import prefect
import pytest

from maturity.extras import sqlite_file_of
from operations import prefect_database
from operations.prefect_database import (
    PrefectDatabase,
    at_recorded_head,
    record_head,
    shipped_revisions,
)

VERSION = "3.9.1"
HEAD = "27d8f4e1a6c9"


def make_database(path: Path, *revisions: str) -> Path:
    """A SQLite file with alembic's version table at the given revision(s)."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("DELETE FROM alembic_version")
        connection.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])
        connection.commit()
    return path


def database_at(home: Path, file: Path | None, *known: str) -> PrefectDatabase:
    """Prefect's view of a database file, with the revisions its migrations ship."""
    return PrefectDatabase(home, VERSION, file, True, frozenset(known or (HEAD, "0000older0000")))


def test_a_database_never_migrated_by_this_prefect_is_checked(tmp_path: Path) -> None:
    database = database_at(tmp_path, make_database(tmp_path / "prefect.db", HEAD))
    assert not at_recorded_head(database)


def test_after_a_migrating_start_the_same_database_and_prefect_skip_the_check(tmp_path: Path) -> None:
    database = database_at(tmp_path, make_database(tmp_path / "prefect.db", HEAD))
    record_head(database)
    assert at_recorded_head(database)


def test_another_revision_another_prefect_or_another_file_is_checked(tmp_path: Path) -> None:
    database = database_at(tmp_path, make_database(tmp_path / "prefect.db", HEAD))
    record_head(database)
    assert not at_recorded_head(replace(database, prefect_version="3.10.0")), "an upgrade brings migrations"
    other = replace(database, file=make_database(tmp_path / "other.db", HEAD))
    assert not at_recorded_head(other), "recorded for one file only"
    make_database(tmp_path / "prefect.db", "0000older0000")
    assert not at_recorded_head(database), "the file was replaced or downgraded"


def test_a_revision_this_prefect_does_not_ship_is_never_recorded(tmp_path: Path) -> None:
    """Another project's newer Prefect may upgrade a shared PREFECT_HOME between our migration and record."""
    database = database_at(tmp_path, make_database(tmp_path / "prefect.db", "f00dnewer000"))
    record_head(database)
    assert not prefect_database.marker_path(tmp_path).exists()
    assert not at_recorded_head(database)


def test_a_missing_empty_or_broken_database_is_checked(tmp_path: Path) -> None:
    file = make_database(tmp_path / "prefect.db", HEAD)
    database = database_at(tmp_path, file)
    record_head(database)
    make_database(file)  # the version table is empty
    assert not at_recorded_head(database)
    file.write_bytes(b"not a database at all")
    assert not at_recorded_head(database)
    file.unlink()
    assert not at_recorded_head(database)
    assert not at_recorded_head(database_at(tmp_path, None))


def test_a_broken_record_is_ignored_and_rewritten(tmp_path: Path) -> None:
    database = database_at(tmp_path, make_database(tmp_path / "prefect.db", HEAD))
    marker = prefect_database.marker_path(tmp_path)
    marker.parent.mkdir(parents=True)
    marker.write_text("{ half a file", encoding="utf-8")
    assert not at_recorded_head(database)
    record_head(database)
    assert at_recorded_head(database)


def test_the_revisions_are_read_from_the_migrations_this_prefect_ships() -> None:
    shipped = shipped_revisions(Path(prefect.__file__).parent)
    assert HEAD in shipped, "Prefect 3.9.1's SQLite head"
    assert len(shipped) > 100


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite+aiosqlite:////home/a/.prefect/prefect.db", Path("/home/a/.prefect/prefect.db")),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite:///file::memory:?cache=shared&uri=true&mode=memory", None),
        ("postgresql+asyncpg://user:secret@db.example/prefect", None),
    ],
)
def test_only_a_sqlite_file_is_ever_skipped(url: str, expected: Path | None) -> None:
    assert sqlite_file_of(url) == expected


class StoppedAtStart:
    """A uvicorn server that stops at start the way uvicorn does, with sys.exit(3)."""

    def __init__(self, lifespan_failed: bool) -> None:
        self.lifespan = type("Lifespan", (), {"startup_failed": lifespan_failed, "error_occurred": False})()

    def run(self) -> None:
        raise SystemExit(3)


def test_a_failed_lifespan_is_told_apart_from_a_taken_port() -> None:
    """uvicorn exits 3 for both; the CLI retries another port on 3, so a failed migration gets 4."""
    from operations.temporary_server import LIFESPAN_FAILURE, STARTUP_FAILURE, run_server

    assert run_server(StoppedAtStart(lifespan_failed=True)) == LIFESPAN_FAILURE
    assert run_server(StoppedAtStart(lifespan_failed=False)) == STARTUP_FAILURE


def test_the_skip_reaches_the_lifespan_uvicorn_runs() -> None:
    """temporary_settings around server.run() must be what an app's lifespan reads, in uvicorn's own loop."""
    import asyncio
    import socket

    import uvicorn
    from prefect.settings import PREFECT_API_DATABASE_MIGRATE_ON_START, temporary_settings

    seen: list[bool] = []

    async def app(scope, receive, send) -> None:  # an ASGI app with a lifespan, as Prefect's
        if scope["type"] == "lifespan":
            await receive()
            seen.append(bool(PREFECT_API_DATABASE_MIGRATE_ON_START.value()))
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="error")
    )

    async def stop_when_started() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        server.should_exit = True

    original = server.startup

    async def startup(sockets=None) -> None:
        await original(sockets)
        asyncio.get_running_loop().create_task(stop_when_started())

    server.startup = startup
    with temporary_settings(updates={PREFECT_API_DATABASE_MIGRATE_ON_START: False}):
        server.run()
    assert seen == [False]
    assert PREFECT_API_DATABASE_MIGRATE_ON_START.value() is True, "only inside the server's run"
