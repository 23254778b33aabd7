"""Live conversations: one row per call of a Face, with its capability token, properties, how it ended,
its system events and transcript.

Revision ID: 0004_conversations
Revises: 0003_pals_and_documents
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_conversations"
down_revision = "0003_pals_and_documents"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("face_id", sa.String(16), nullable=False),
        sa.Column("pal_id", sa.String(16), nullable=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("conversational_context", sa.Text, nullable=True),
        sa.Column("custom_greeting", sa.Text, nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("token", sa.String(40), nullable=False),
        sa.Column("shutdown_reason", sa.Text, nullable=True),
        sa.Column("server", sa.String(100), nullable=True),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("transcript", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_conversations_owner_id", "conversations", ["owner_id"])
    op.create_index("ix_conversations_face_id", "conversations", ["face_id"])
    op.create_index("ix_conversations_status", "conversations", ["status"])
    op.create_index("ix_conversations_token", "conversations", ["token"], unique=True)


def downgrade() -> None:
    op.drop_table("conversations")
