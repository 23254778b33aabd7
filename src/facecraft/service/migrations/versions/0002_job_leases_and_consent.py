"""Job leases for worker processes (a job whose worker died is found by its expired lease), each job's
peak memory, and how a Face's consent was established.

Revision ID: 0002_job_leases_and_consent
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_job_leases_and_consent"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("worker", sa.String(100), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("peak_rss_mb", sa.Float, nullable=True))
    with op.batch_alter_table("faces") as batch:
        batch.add_column(sa.Column("consent", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faces") as batch:
        batch.drop_column("consent")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("peak_rss_mb")
        batch.drop_column("lease_until")
        batch.drop_column("worker")
