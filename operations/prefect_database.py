"""Prefect's own database (in PREFECT_HOME): created at install, and its migration check skipped when safe.

A new Prefect database is built by running every one of Prefect's migrations: 8.9 s on the 2-core
machine, against 3 s for the temporary server's whole start on a database that has them. `make setup`
runs this module (`python -m operations.prefect_database`), which has Prefect's own command
(`prefect server database upgrade`) do that once, at install, as bytecode is compiled at install: a
newcomer's first run is then no slower than the next one.

The temporary server (operations/temporary_server.py) skips Prefect's migration check at start only when
the database is provably at this Prefect's head: its alembic revision is the one recorded after this same
Prefect version migrated that same SQLite file (here, or in a server start that migrated). Any other case
(no record, another Prefect version, another revision, another file, a database that is not a SQLite
file, migrate-on-start switched off by the user) is left to Prefect as it would be without us.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

MIGRATED_MARKER = "migrated-databases.json"  # in PREFECT_HOME/temporary-servers


@dataclass(frozen=True)
class PrefectDatabase:
    """The database Prefect's settings name, and whether Prefect migrates it when a server starts."""

    home: Path
    prefect_version: str
    file: Path | None  # None: not a SQLite file (a server, or in memory), never skipped
    migrates_on_start: bool


def configured_database() -> PrefectDatabase:
    """The Prefect database this environment's settings name (imports Prefect's settings)."""
    from prefect import __version__
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_API_DATABASE_MIGRATE_ON_START,
        PREFECT_HOME,
    )

    return PrefectDatabase(
        home=Path(PREFECT_HOME.value()).expanduser(),
        prefect_version=__version__,
        file=sqlite_file_of(str(PREFECT_API_DATABASE_CONNECTION_URL.value())),
        migrates_on_start=bool(PREFECT_API_DATABASE_MIGRATE_ON_START.value()),
    )


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


def at_recorded_head(home: Path, prefect_version: str, database: Path | None) -> bool:
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


def prepare_database() -> int:
    """Create or upgrade Prefect's database now, with Prefect's own command, unless it is at head already."""
    database = configured_database()
    if database.file is None or not database.migrates_on_start:
        return 0  # a database server, or one whose migrations the user runs: left as it is
    if at_recorded_head(database.home, database.prefect_version, database.file):
        return 0
    prefect = Path(sys.executable).with_name("prefect")  # Prefect's CLI in this environment
    upgraded = subprocess.run(
        [str(prefect), "server", "database", "upgrade", "--yes"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if upgraded.returncode != 0:
        reason = (upgraded.stderr.strip() or upgraded.stdout.strip() or "no message").splitlines()[-1]
        print(
            f"Prefect could not create or upgrade its database {database.file}: {reason}. Check that "
            "PREFECT_HOME (or ~/.prefect) is writable, then run `make setup` again.",
            file=sys.stderr,
        )
        return 1
    record_head(database.home, database.prefect_version, database.file)
    print(f"Prefect's database is ready: {database.file} (built once, at install).")
    return 0


if __name__ == "__main__":
    sys.exit(prepare_database())
