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
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from maturity.extras import sqlite_file_of

MIGRATED_MARKER = "migrated-databases.json"  # in PREFECT_HOME/temporary-servers
SQLITE_MIGRATIONS = Path("server", "database", "_migrations", "versions", "sqlite")  # in Prefect's package
REVISION_LINE = re.compile(r'^revision\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
UPGRADE_TIMEOUT_SECONDS = 600  # a new database on a slow, loaded machine


@dataclass(frozen=True)
class PrefectDatabase:
    """The database Prefect's settings name, and whether Prefect migrates it when a server starts."""

    home: Path
    prefect_version: str
    file: Path | None  # None: not a SQLite file (a server, or in memory), never skipped
    migrates_on_start: bool
    known_revisions: frozenset[str]  # the revisions this Prefect ships for SQLite


def configured_database() -> PrefectDatabase:
    """The Prefect database this environment's settings name (imports Prefect's settings)."""
    import prefect
    from prefect.settings import (
        PREFECT_API_DATABASE_CONNECTION_URL,
        PREFECT_API_DATABASE_MIGRATE_ON_START,
        PREFECT_HOME,
    )

    return PrefectDatabase(
        home=Path(PREFECT_HOME.value()).expanduser(),
        prefect_version=prefect.__version__,
        file=sqlite_file_of(str(PREFECT_API_DATABASE_CONNECTION_URL.value())),
        migrates_on_start=bool(PREFECT_API_DATABASE_MIGRATE_ON_START.value()),
        known_revisions=shipped_revisions(Path(prefect.__file__).parent),
    )


def shipped_revisions(prefect_package: Path) -> frozenset[str]:
    """Every alembic revision among the SQLite migrations a Prefect package ships (read, not imported).

    A revision outside it (another project's newer Prefect upgraded a shared PREFECT_HOME) is never
    recorded nor skipped: Prefect's own check then stops the server with its message, as without us.
    """
    texts = (
        script.read_text(encoding="utf-8") for script in (prefect_package / SQLITE_MIGRATIONS).glob("*.py")
    )
    return frozenset(revision for text in texts for revision in REVISION_LINE.findall(text))


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


def known_revision(database: PrefectDatabase) -> str | None:
    """The database file's revision if this Prefect ships every part of it, else None."""
    revision = database_revision(database.file) if database.file is not None else None
    if revision is None or not set(revision.split(",")) <= database.known_revisions:
        return None
    return revision


def at_recorded_head(database: PrefectDatabase) -> bool:
    """Whether the database is at the revision this Prefect version last migrated this very file to."""
    revision = known_revision(database)
    if revision is None or database.file is None:
        return False
    key = head_key(database.prefect_version, database.file)
    return recorded_heads(database.home).get(key) == revision


def record_head(database: PrefectDatabase) -> None:
    """Record the database's revision as this Prefect's head (called once a migrating start has finished)."""
    revision = known_revision(database)
    if revision is None or database.file is None:
        return
    heads = recorded_heads(database.home)
    heads[head_key(database.prefect_version, database.file)] = revision
    path = marker_path(database.home)
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(heads, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(staged, path)  # atomic: two servers starting at once never leave half a file


def prepare_database() -> int:
    """Create or upgrade Prefect's database now, with Prefect's own command, unless it is at head already.

    Nothing to do where no temporary server will use it: PREFECT_API_URL names a server, the database is
    not a SQLite file, or the user runs its migrations (migrate-on-start off). Any failure is one line.
    """
    from operations.prefect_api import named_api_url  # the CLI's own test for a named server

    try:
        database = configured_database()
        if named_api_url() or database.file is None or not database.migrates_on_start:
            return 0
        if at_recorded_head(database):
            return 0
        problem = upgrade_database()
        if problem is None:
            record_head(database)
    except (OSError, ValueError) as error:
        problem = str(error)
    if problem is not None:
        print(
            f"Prefect could not create or upgrade its database in PREFECT_HOME: {problem}. Check that "
            "PREFECT_HOME (or ~/.prefect) is a writable folder, then run `make setup` again.",
            file=sys.stderr,
        )
        return 1
    print(f"Prefect's database is ready: {database.file} (built once, at install).")
    return 0


def upgrade_database() -> str | None:
    """Run `prefect server database upgrade` in this environment; None, or the last line it printed."""
    try:
        upgraded = subprocess.run(
            [sys.executable, "-m", "prefect", "server", "database", "upgrade", "--yes"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            timeout=UPGRADE_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return f"`prefect server database upgrade` did not finish within {UPGRADE_TIMEOUT_SECONDS} s"
    if upgraded.returncode == 0:
        return None
    return (upgraded.stderr.strip() or upgraded.stdout.strip() or "no message").splitlines()[-1]


if __name__ == "__main__":
    sys.exit(prepare_database())
