"""Run registry: runs, their inputs, outputs and quality results.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("parameters", sa.Text, nullable=False),
        sa.Column("code_version", sa.String(64), nullable=False),
        sa.Column("wave", sa.String(32)),
        sa.Column("council", sa.String(16)),
        sa.Column("prefect_flow_run_id", sa.String(36)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text),
    )
    op.create_index("ix_runs_prefect_flow_run_id", "runs", ["prefect_flow_run_id"])
    op.create_table(
        "run_inputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows_read", sa.Integer, nullable=False),
        sa.Column("rows_loaded", sa.Integer, nullable=False),
        sa.Column("rows_quarantined", sa.Integer, nullable=False),
    )
    op.create_index("ix_run_inputs_run_id", "run_inputs", ["run_id"])
    op.create_table(
        "run_outputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_run_outputs_run_id", "run_outputs", ["run_id"])
    op.create_table(
        "quality_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("column", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
    )
    op.create_index("ix_quality_results_run_id", "quality_results", ["run_id"])


def downgrade() -> None:
    for table in ("quality_results", "run_outputs", "run_inputs", "runs"):
        op.drop_table(table)
