"""Initial schema: api keys, uploads, faces, videos, jobs.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_api_keys_key_hash", "api_keys", ["key_hash"], unique=True)
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("file_name", sa.String(300), nullable=False),
        sa.Column("content_type", sa.String(200), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_uploads_owner_id", "uploads", ["owner_id"])
    op.create_table(
        "faces",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=True),
        sa.Column("face_type", sa.String(10), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("error_id", sa.String(64), nullable=True),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("model_name", sa.String(100), nullable=True),
        sa.Column("source_kind", sa.String(10), nullable=False),
        sa.Column("source_url", sa.Text, nullable=True),
        sa.Column("source_upload_id", sa.String(16), nullable=True),
        sa.Column("consent_video_url", sa.Text, nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("voice_name", sa.String(200), nullable=True),
        sa.Column("default_voice_id", sa.String(200), nullable=True),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("report", sa.JSON, nullable=True),
        sa.Column("bundle_path", sa.Text, nullable=True),
        sa.Column("stock_key", sa.String(200), nullable=True),
        sa.Column("share_token", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
    )
    op.create_index("ix_faces_owner_id", "faces", ["owner_id"])
    op.create_index("ix_faces_stock_key", "faces", ["stock_key"])
    op.create_index("ix_faces_share_token", "faces", ["share_token"], unique=True)
    op.create_table(
        "videos",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("owner_id", sa.String(16), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("face_id", sa.String(16), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Integer, nullable=False),
        sa.Column("status_details", sa.Text, nullable=True),
        sa.Column("error_id", sa.String(64), nullable=True),
        sa.Column("script", sa.Text, nullable=True),
        sa.Column("audio_url", sa.Text, nullable=True),
        sa.Column("audio_upload_id", sa.String(16), nullable=True),
        sa.Column("callback_url", sa.Text, nullable=True),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("share_token", sa.String(40), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_videos_owner_id", "videos", ["owner_id"])
    op.create_index("ix_videos_face_id", "videos", ["face_id"])
    op.create_index("ix_videos_share_token", "videos", ["share_token"], unique=True)
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target_id", sa.String(16), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
    )
    op.create_index("ix_jobs_target_id", "jobs", ["target_id"])
    op.create_index("ix_jobs_status", "jobs", ["status"])


def downgrade() -> None:
    for table in ("jobs", "videos", "faces", "uploads", "api_keys"):
        op.drop_table(table)
