"""The temporary server skips the migration check only for a database provably at this Prefect's head."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from operations import prefect_database
from operations.prefect_database import at_recorded_head, record_head, sqlite_file_of

VERSION = "3.9.1"


def make_database(path: Path, *revisions: str) -> Path:
    """A SQLite file with alembic's version table at the given revision(s)."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.execute("DELETE FROM alembic_version")
        connection.executemany("INSERT INTO alembic_version VALUES (?)", [(r,) for r in revisions])
        connection.commit()
    return path


def test_a_database_never_migrated_by_this_prefect_is_checked(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefect.db", "27d8f4e1a6c9")
    assert not at_recorded_head(tmp_path, VERSION, database)


def test_after_a_migrating_start_the_same_database_and_prefect_skip_the_check(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefect.db", "27d8f4e1a6c9")
    record_head(tmp_path, VERSION, database)
    assert at_recorded_head(tmp_path, VERSION, database)


def test_another_revision_another_prefect_or_another_file_is_checked(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefect.db", "27d8f4e1a6c9")
    record_head(tmp_path, VERSION, database)
    assert not at_recorded_head(tmp_path, "3.10.0", database), "a Prefect upgrade brings migrations"
    other = make_database(tmp_path / "other.db", "27d8f4e1a6c9")
    assert not at_recorded_head(tmp_path, VERSION, other), "recorded for one file only"
    make_database(database, "0000older0000")
    assert not at_recorded_head(tmp_path, VERSION, database), "the file was replaced or downgraded"


def test_a_missing_empty_or_broken_database_is_checked(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefect.db", "27d8f4e1a6c9")
    record_head(tmp_path, VERSION, database)
    make_database(database)  # the version table is empty
    assert not at_recorded_head(tmp_path, VERSION, database)
    database.write_bytes(b"not a database at all")
    assert not at_recorded_head(tmp_path, VERSION, database)
    database.unlink()
    assert not at_recorded_head(tmp_path, VERSION, database)
    assert not at_recorded_head(tmp_path, VERSION, None)


def test_a_broken_record_is_ignored_and_rewritten(tmp_path: Path) -> None:
    database = make_database(tmp_path / "prefect.db", "27d8f4e1a6c9")
    marker = prefect_database.marker_path(tmp_path)
    marker.parent.mkdir(parents=True)
    marker.write_text("{ half a file", encoding="utf-8")
    assert not at_recorded_head(tmp_path, VERSION, database)
    record_head(tmp_path, VERSION, database)
    assert at_recorded_head(tmp_path, VERSION, database)


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
