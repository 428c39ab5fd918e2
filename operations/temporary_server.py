"""The temporary Prefect server's process: Prefect's API app under uvicorn, without start-up work it can skip.

`python -m operations.temporary_server PORT` serves `prefect.server.api.server:create_app` on loopback, as
Prefect's own temporary server (`SubprocessASGIServer`) does, and saves two steps of its start, which is on
a cold run's critical path:

- Registering block types (PREFECT_SERVER_REGISTER_BLOCKS_ON_START and its memo, both off in the
  environment operations/prefect_api.py gives this process): even when memoised it imports every Prefect
  collection installed, so prefect-dask and Dask's distributed, 0.36 s of a 3.46 s start. A temporary
  server serves no UI and a run saves no blocks; `prefect server start` on the same database registers
  them at its own start.
- The database migration check, only when the database is provably at this Prefect's head: its alembic
  revision is the one recorded after a start of this same Prefect version that did migrate that same
  SQLite file. Any other case (no record, another Prefect version, another revision, another database,
  a database that is not a SQLite file, the user's own migrate-on-start setting off) starts as Prefect
  does. The check itself loads every migration script to find nothing to do.

It imports only Prefect and uvicorn (never the pipeline), and says on stdout, its log, what it skipped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

LOOPBACK = "127.0.0.1"
APP = "prefect.server.api.server:create_app"
STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start (e.g. the port was taken)
MIGRATED_MARKER = "migrated-databases.json"  # in PREFECT_HOME/temporary-servers
STARTED_POLL_SECONDS = 0.05


def sqlite_file_of(connection_url: str) -> Path | None:
    """The database file a SQLite connection URL names; None for another database or an in-memory one."""
    from sqlalchemy.engine import make_url

    url = make_url(connection_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if "mode=memory" in connection_url:
        return None
    return Path(url.database)


def database_revision(database: Path) -> str | None:
    """The alembic revision(s) the SQLite file is at, read-only; None if it has none or cannot be read."""
    if not database.is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return None
    return ",".join(sorted(str(row[0]) for row in rows)) or None


def marker_path(home: Path) -> Path:
    """Where the revisions this Prefect migrated databases to are recorded."""
    return home / "temporary-servers" / MIGRATED_MARKER


def recorded_heads(home: Path) -> dict[str, str]:
    """{"<prefect version> <database file>": revision} as recorded; empty if missing or unreadable."""
    try:
        recorded = json.loads(marker_path(home).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def head_key(prefect_version: str, database: Path) -> str:
    """The record's key: a Prefect version and a database file."""
    return f"{prefect_version} {database.resolve()}"


def migration_skippable(home: Path, prefect_version: str, database: Path | None) -> bool:
    """Whether the database is at the revision this Prefect version last migrated this very file to."""
    if database is None:
        return False
    revision = database_revision(database)
    return revision is not None and recorded_heads(home).get(head_key(prefect_version, database)) == revision


def record_head(home: Path, prefect_version: str, database: Path) -> None:
    """Record the database's revision as this Prefect's head (called once a migrating start has finished)."""
    revision = database_revision(database)
    if revision is None:
        return
    heads = recorded_heads(home)
    heads[head_key(prefect_version, database)] = revision
    path = marker_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(heads, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(staged, path)  # atomic: two servers starting at once never leave half a file


def record_head_once_started(server: object, home: Path, prefect_version: str, database: Path) -> None:
    """In a thread: wait until uvicorn has started (its lifespan migrated the database), then record."""
    while not getattr(server, "started", False):
        if getattr(server, "should_exit", False):
            return
        time.sleep(STARTED_POLL_SECONDS)
    record_head(home, prefect_version, database)


def serve(port: int) -> int:
    """Serve Prefect's API on loopback at port until stopped; uvicorn's exit code for a failed start."""
    import uvicorn
    from prefect import __version__ as prefect_version
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_API_DATABASE_MIGRATE_ON_START,
        PREFECT_HOME,
        temporary_settings,
    )

    home = Path(PREFECT_HOME.value()).expanduser()
    database = sqlite_file_of(str(PREFECT_API_DATABASE_CONNECTION_URL.value()))
    migrates = bool(PREFECT_API_DATABASE_MIGRATE_ON_START.value())
    skip = migrates and migration_skippable(home, prefect_version, database)
    config = uvicorn.Config(APP, factory=True, host=LOOPBACK, port=port, log_level="error", lifespan="on")
    server = uvicorn.Server(config)
    if skip:
        print("Database at the revision this Prefect migrated it to: migration check skipped.", flush=True)
        with temporary_settings(updates={PREFECT_API_DATABASE_MIGRATE_ON_START: False}):
            server.run()
    else:
        if migrates and database is not None:
            threading.Thread(
                target=record_head_once_started,
                args=(server, home, prefect_version, database),
                name="record-migrated-head",
                daemon=True,
            ).start()
        server.run()
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
