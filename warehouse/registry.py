"""Run registry: what each run read, set aside and wrote, in any SQLAlchemy database (SQLite default)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from maturity.extras import require_extra_for_url, sqlite_file_of
from maturity.settings import REGISTRY_URL_ENV

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a unit test checks it against Alembic's own head).
REGISTRY_HEAD = "0003"
ALEMBIC_VERSION_TABLE = "alembic_version"
STATUS_RUNNING = "running"
STATUS_COMPLETED = "completed"
STATUS_FAILED = "failed"


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    flow: Mapped[str] = mapped_column(sa.String(64))
    parameters: Mapped[str] = mapped_column(sa.Text)  # JSON
    code_version: Mapped[str] = mapped_column(sa.String(64))
    wave: Mapped[str | None] = mapped_column(sa.String(32))
    council: Mapped[str | None] = mapped_column(sa.String(16))
    prefect_flow_run_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    prefect_flow_run_name: Mapped[str | None] = mapped_column(sa.String(128))
    started_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(16))
    message: Mapped[str | None] = mapped_column(sa.Text)


class RunInput(Base):
    __tablename__ = "run_inputs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    dataset: Mapped[str] = mapped_column(sa.String(64))
    path: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    rows_read: Mapped[int]
    rows_loaded: Mapped[int]
    rows_quarantined: Mapped[int]


class RunOutput(Base):
    __tablename__ = "run_outputs"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    bytes: Mapped[int] = mapped_column(sa.BigInteger)


class QualityResult(Base):
    __tablename__ = "quality_results"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    dataset: Mapped[str] = mapped_column(sa.String(64))
    column: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    rows: Mapped[int]


class WarehouseFile(Base):
    """A file of the warehouse a run committed (written or carried), so the next run can check it."""

    __tablename__ = "warehouse_files"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(sa.ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))


@dataclass(frozen=True)
class OutputFile:
    """One file a run wrote, relative to OUT."""

    path: str
    sha256: str
    bytes: int


def registry_engine(url: str) -> sa.Engine:
    """An engine for the registry, its schema brought up to date with Alembic on first use.

    For a SQLite file the engine is kept per file (device, inode), not per path: a long-lived process
    (the warm rerun worker, a benchmark) must not go on writing through a pooled connection to the
    registry of an OUT that was deleted and made again.
    """
    path = sqlite_file_of(url)
    if path is None:
        return _registry_engine(url, None)
    try:
        status = path.stat()
    except FileNotFoundError:  # made by this engine: kept from the next call on, under its inode
        return _registry_engine.__wrapped__(url, None)
    return _registry_engine(url, (status.st_dev, status.st_ino))


@cache
def _registry_engine(url: str, identity: tuple[int, int] | None) -> sa.Engine:
    """registry_engine for one registry: its URL, and for a SQLite file its (device, inode)."""
    require_extra_for_url(url, REGISTRY_URL_ENV)  # only that can name a database with an optional driver
    engine = sa.create_engine(url)
    migrate_registry(engine)
    return engine


def registry_revision(engine: sa.Engine) -> str | None:
    """The Alembic revision the registry is at (None for a new database, or one Alembic never stamped)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(ALEMBIC_VERSION_TABLE):
            return None
        revisions = connection.execute(sa.text(f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}")).all()
    return revisions[0][0] if len(revisions) == 1 else None


def migrate_registry(engine: sa.Engine) -> None:
    """Apply every Alembic migration the registry has not had yet.

    A registry already at REGISTRY_HEAD is left alone without importing Alembic: its import (Mako,
    Pygments) was 0.6 s of every cold rerun's critical path, and the upgrade then found nothing to do.
    """
    if registry_revision(engine) == REGISTRY_HEAD:
        return
    from alembic import command
    from alembic.config import Config

    logging.getLogger("alembic").setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _now() -> datetime:
    return datetime.now(UTC)


def start_run(url: str, run_id: str, flow: str, parameters: dict[str, Any], **details: Any) -> None:
    """Record that a run has started."""
    with Session(registry_engine(url)) as session, session.begin():
        session.add(
            Run(
                id=run_id,
                flow=flow,
                parameters=json.dumps(parameters, default=str, sort_keys=True),
                started_at=_now(),
                status=STATUS_RUNNING,
                **details,
            )
        )


def record_inputs(
    url: str, run_id: str, wave: str, accounting: pd.DataFrame, quarantine: pd.DataFrame
) -> None:
    """Record the wave, each input's checksum and row accounting, and quarantine counts by reason."""
    reasons = (
        quarantine.groupby(["dataset", "column", "reason"])["source_row"].nunique().reset_index(name="rows")
        if len(quarantine)
        else pd.DataFrame(columns=["dataset", "column", "reason", "rows"])
    )
    with Session(registry_engine(url)) as session, session.begin():
        session.get(Run, run_id).wave = wave
        session.add_all(
            RunInput(
                run_id=run_id,
                dataset=row.dataset,
                path=row.source_file,
                sha256=row.sha256,
                rows_read=int(row.rows_read),
                rows_loaded=int(row.rows_loaded),
                rows_quarantined=int(row.rows_quarantined),
            )
            for row in accounting.itertuples()
        )
        session.add_all(
            QualityResult(
                run_id=run_id, dataset=r.dataset, column=r.column, reason=r.reason, rows=int(r.rows)
            )
            for r in reasons.itertuples()
        )


def finish_run(
    url: str, run_id: str, outputs: list[OutputFile], warehouse: dict[str, str] | None = None
) -> None:
    """Record a run's outputs and its whole warehouse's checksums (path: sha256), and mark it completed."""
    with Session(registry_engine(url)) as session, session.begin():
        session.add_all(
            RunOutput(run_id=run_id, path=o.path, sha256=o.sha256, bytes=o.bytes) for o in outputs
        )
        session.add_all(
            WarehouseFile(run_id=run_id, path=path, sha256=sha) for path, sha in (warehouse or {}).items()
        )
        run = session.get(Run, run_id)
        run.status, run.finished_at = STATUS_COMPLETED, _now()


def fail_run(url: str, run_id: str, message: str) -> None:
    """Mark a run failed with the reason it stopped."""
    with Session(registry_engine(url)) as session, session.begin():
        run = session.get(Run, run_id)
        if run is not None:
            run.status, run.finished_at, run.message = STATUS_FAILED, _now(), message


def run_id_for_flow_run(url: str, prefect_flow_run_id: str) -> str | None:
    """The registry run belonging to a Prefect flow run, if it got as far as starting one."""
    with Session(registry_engine(url)) as session:
        return session.scalar(sa.select(Run.id).where(Run.prefect_flow_run_id == prefect_flow_run_id))


def recent_runs(url: str, limit: int, wave: str | None = None) -> pd.DataFrame:
    """The latest runs (of one wave, if given) with their row accounting and output counts, newest first."""
    engine = registry_engine(url)
    inputs = (
        sa.select(
            RunInput.run_id,
            sa.func.sum(RunInput.rows_read).label("rows_read"),
            sa.func.sum(RunInput.rows_loaded).label("rows_loaded"),
            sa.func.sum(RunInput.rows_quarantined).label("rows_quarantined"),
        )
        .group_by(RunInput.run_id)
        .subquery()
    )
    outputs = (
        sa.select(RunOutput.run_id, sa.func.count().label("outputs")).group_by(RunOutput.run_id).subquery()
    )
    query = (
        sa.select(
            Run.id,
            Run.prefect_flow_run_name,
            Run.flow,
            Run.wave,
            Run.council,
            Run.status,
            Run.started_at,
            Run.finished_at,
            inputs.c.rows_read,
            inputs.c.rows_loaded,
            inputs.c.rows_quarantined,
            outputs.c.outputs,
            Run.message,
        )
        .outerjoin(inputs, inputs.c.run_id == Run.id)
        .outerjoin(outputs, outputs.c.run_id == Run.id)
        .order_by(Run.started_at.desc())
        .limit(limit)
    )
    if wave is not None:
        query = query.where(Run.wave == wave)
    with engine.connect() as connection:
        return pd.DataFrame(connection.execute(query).mappings().all())


def recorded_warehouse_checksums(url: str, run_id: str) -> dict[str, str] | None:
    """The warehouse files (path: sha256) the run committed; None if it recorded none (an older run)."""
    with Session(registry_engine(url)) as session:
        rows = session.execute(
            sa.select(WarehouseFile.path, WarehouseFile.sha256).where(WarehouseFile.run_id == run_id)
        ).all()
    return {path: sha256 for path, sha256 in rows} or None


def mark_interrupted(url: str, keep_run_id: str, message: str) -> None:
    """Mark failed every run still 'running' but the one named: it was killed before it could say so."""
    with Session(registry_engine(url)) as session, session.begin():
        for run in session.scalars(sa.select(Run).where(Run.status == STATUS_RUNNING, Run.id != keep_run_id)):
            run.status, run.message = STATUS_FAILED, message


def last_completed_parameters(url: str, flow: str) -> dict[str, Any] | None:
    """Parameters of the latest completed run of a flow (a rerun reuses its inputs)."""
    with Session(registry_engine(url)) as session:
        run = session.scalars(
            sa.select(Run)
            .where(Run.flow == flow, Run.status == STATUS_COMPLETED)
            .order_by(Run.started_at.desc())
        ).first()
        return json.loads(run.parameters) if run else None
