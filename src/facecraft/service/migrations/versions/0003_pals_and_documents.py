"""PALs (personas) and knowledge documents.

Revision ID: 0003_pals_and_documents
Revises: 0002_job_leases_and_consent
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_pals_and_documents"
down_revision = "0002_job_leases_and_consent"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pals",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("pal_type", sa.String(10), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("system_prompt", sa.Text, nullable=True),
        sa.Column("context", sa.Text, nullable=True),
        sa.Column("greeting", sa.Text, nullable=True),
        sa.Column("pipeline_mode", sa.String(10), nullable=False),
        sa.Column("default_face_id", sa.String(40), nullable=True),
        sa.Column("default_face_stock_key", sa.String(200), nullable=True),
        sa.Column("document_ids", sa.JSON, nullable=False),
        sa.Column("layers", sa.JSON, nullable=False),
        sa.Column("stock_key", sa.String(200), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_pals_owner_id", "pals", ["owner_id"])
    op.create_index("ix_pals_stock_key", "pals", ["stock_key"])
    op.create_table(
        "documents",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("document_url", sa.Text, nullable=True),
        sa.Column("upload_id", sa.String(16), nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(8), nullable=True),
        sa.Column("size_bytes", sa.Integer, nullable=True),
        sa.Column("chars", sa.Integer, nullable=True),
        sa.Column("chunks", sa.Integer, nullable=True),
        sa.Column("error_id", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_documents_owner_id", "documents", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_documents_owner_id", table_name="documents")
    op.drop_table("documents")
    op.drop_index("ix_pals_stock_key", table_name="pals")
    op.drop_index("ix_pals_owner_id", table_name="pals")
    op.drop_table("pals")
