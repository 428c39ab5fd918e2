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
from typing import Any

from operations.prefect_database import PrefectDatabase, at_recorded_head, configured_database, record_head

LOOPBACK = "127.0.0.1"
APP = "prefect.server.api.server:create_app"
STARTUP_FAILURE = 3  # uvicorn's exit code when the server could not start (e.g. the port was taken)
LIFESPAN_FAILURE = 4  # ours: Prefect's start-up (its migrations, its database) failed; not worth a retry


def serve(port: int) -> int:
    """Serve Prefect's API on loopback at port until stopped; an exit code saying why a start failed."""
    import uvicorn
    from prefect.settings import PREFECT_API_DATABASE_MIGRATE_ON_START, temporary_settings

    database = configured_database()
    config = uvicorn.Config(APP, factory=True, host=LOOPBACK, port=port, log_level="error", lifespan="on")
    if database.migrates_on_start and at_recorded_head(database):
        print("Database at the revision this Prefect migrated it to: migration check skipped.", flush=True)
        with temporary_settings(updates={PREFECT_API_DATABASE_MIGRATE_ON_START: False}):
            return run_server(uvicorn.Server(config))
    return run_server(
        recording_server(config, database) if database.migrates_on_start else uvicorn.Server(config)
    )


def recording_server(config: Any, database: PrefectDatabase) -> Any:
    """A uvicorn server that records the database's head once its start (Prefect's migrations) is done."""
    import uvicorn

    class RecordingServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:  # set by uvicorn only after the lifespan (migrations) and the bind succeeded
                record_head(database)

    return RecordingServer(config)


def run_server(server: Any) -> int:
    """Run the server; uvicorn exits with 3 for a port taken and for a failed lifespan alike: tell them apart.

    The CLI retries another port on 3 (operations/prefect_api.py); a lifespan that failed (a migration,
    the database) would only fail again there, so it gets its own code, and its log is kept.
    """
    try:
        server.run()
    except SystemExit as stopped:
        lifespan = getattr(server, "lifespan", None)
        if lifespan is not None and (lifespan.startup_failed or lifespan.error_occurred):
            return LIFESPAN_FAILURE
        return stopped.code if isinstance(stopped.code, int) else STARTUP_FAILURE
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1])))
