"""Alembic environment for the run registry: uses the caller's connection, or MATURITY_REGISTRY_URL."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from warehouse.registry import Base

target_metadata = Base.metadata


def run_migrations(connection: sa.Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ["MATURITY_REGISTRY_URL"]
    with sa.create_engine(url).connect() as own_connection:
        run_migrations(own_connection)
        own_connection.commit()
