"""The temporary Prefect server's process: Prefect's API app under uvicorn, without start-up work it can skip.

`python -m operations.temporary_server PORT` serves `prefect.server.api.server:create_app` on loopback, as
Prefect's own temporary server (`SubprocessASGIServer`) does, and saves two steps of its start, which is on
a cold run's critical path:

- Registering block types (PREFECT_SERVER_REGISTER_BLOCKS_ON_START and its memo, both off in the
  environment operations/prefect_api.py gives this process): even when memoised it imports every Prefect
  collection installed, so prefect-dask and Dask's distributed, 0.36 s of a 3.46 s start. A temporary
  server serves no UI and a run saves no blocks; `prefect server start` on the same database registers
  them at its own start.
- The database migration check, only when the database is provably at this Prefect's head (operations/
  prefect_database.py says when): the check loads every migration script to find nothing to do.

It imports only Prefect and uvicorn (never the pipeline), and says on stdout, its log, what it skipped.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from operations.prefect_database import at_recorded_head, configured_database, record_head

LOOPBACK = "127.0.0.1"
APP = "prefect.server.api.server:create_app"
STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start (e.g. the port was taken)
STARTED_POLL_SECONDS = 0.05


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
    from prefect.settings import PREFECT_API_DATABASE_MIGRATE_ON_START, temporary_settings

    database = configured_database()
    migrates = database.migrates_on_start and database.file is not None
    skip = migrates and at_recorded_head(database.home, database.prefect_version, database.file)
    server = uvicorn.Server(
        uvicorn.Config(APP, factory=True, host=LOOPBACK, port=port, log_level="error", lifespan="on")
    )
    if skip:
        print("Database at the revision this Prefect migrated it to: migration check skipped.", flush=True)
        with temporary_settings(updates={PREFECT_API_DATABASE_MIGRATE_ON_START: False}):
            server.run()
    else:
        if migrates:
            threading.Thread(
                target=record_head_once_started,
                args=(server, database.home, database.prefect_version, database.file),
                name="record-migrated-head",
                daemon=True,
            ).start()
        server.run()
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
