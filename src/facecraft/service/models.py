"""SQLAlchemy 2 models. The schema is owned by the Alembic migrations in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "ApiKey", "Face", "Video", "Upload", "Job", "Conversation", "Pal", "Document", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, shown in listings
    key_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Upload(Base):
    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    file_name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Face(Base):
    __tablename__ = "faces"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), index=True)  # None: stock
    face_type: Mapped[str] = mapped_column(String(10), default="user")  # user | system
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="started")  # started|completed|error|deleted
    progress: Mapped[int] = mapped_column(Integer, default=0)
    error_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    model_name: Mapped[str | None] = mapped_column(String(100), default=None)
    source_kind: Mapped[str] = mapped_column(String(10), default="video")  # video | image | bundle
    source_url: Mapped[str | None] = mapped_column(Text, default=None)
    source_upload_id: Mapped[str | None] = mapped_column(String(16), default=None)
    consent_video_url: Mapped[str | None] = mapped_column(Text, default=None)
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)
    voice_name: Mapped[str | None] = mapped_column(String(200), default=None)
    default_voice_id: Mapped[str | None] = mapped_column(String(200), default=None)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    report: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # How consent was established: {"method": "statement"|"clip"|"attested", ...} (see faces.consent).
    consent: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    bundle_path: Mapped[str | None] = mapped_column(Text, default=None)
    stock_key: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    share_token: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Video(Base):
    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    face_id: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|generating|ready|error|deleted
    progress: Mapped[int] = mapped_column(Integer, default=0)
    status_details: Mapped[str | None] = mapped_column(Text, default=None)
    error_id: Mapped[str | None] = mapped_column(String(64), default=None)
    script: Mapped[str | None] = mapped_column(Text, default=None)
    audio_url: Mapped[str | None] = mapped_column(Text, default=None)
    audio_upload_id: Mapped[str | None] = mapped_column(String(16), default=None)
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    share_token: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Job(Base):
    """A unit of background work, persisted before it runs so that a restart can resume it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # face_build | video_render
    target_id: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(
        String(12), default="queued", index=True
    )  # queued|running|done|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    worker: Mapped[str | None] = mapped_column(String(100), default=None)  # host:pid of its worker
    # A running job whose lease is past was abandoned by a dead worker: recovery re-queues or fails it.
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    peak_rss_mb: Mapped[float | None] = mapped_column(Float, default=None)  # of its job process
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Conversation(Base):
    """A live call of a Face. Its session (one process) lives in the API process that created it
    (``server``); the row outlives it with how it ended, its events and what the Face said."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    face_id: Mapped[str] = mapped_column(String(16), index=True)
    pal_id: Mapped[str | None] = mapped_column(String(16), default=None)
    name: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10), default="active", index=True)  # active|ended|deleted
    mode: Mapped[str] = mapped_column(String(10), default="echo")  # pipeline_mode: echo | full
    conversational_context: Mapped[str | None] = mapped_column(Text, default=None)
    custom_greeting: Mapped[str | None] = mapped_column(Text, default=None)
    callback_url: Mapped[str | None] = mapped_column(Text, default=None)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # audio_only, test_mode
    # The capability token of conversation_url and of the signalling and interactions endpoints.
    token: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    shutdown_reason: Mapped[str | None] = mapped_column(Text, default=None)
    server: Mapped[str | None] = mapped_column(String(100), default=None)  # host:pid holding the session
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)  # system events, for ?verbose=true
    transcript: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{role, content}], ?verbose=true
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)


class Pal(Base):
    """A PAL (legacy name: persona): behaviour, knowledge and pipeline settings of a conversation."""

    __tablename__ = "pals"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), index=True)  # None: stock
    pal_type: Mapped[str] = mapped_column(String(10), default="user")  # user | system
    name: Mapped[str] = mapped_column(String(300), default="")
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    context: Mapped[str | None] = mapped_column(Text, default=None)
    greeting: Mapped[str | None] = mapped_column(Text, default=None)
    pipeline_mode: Mapped[str] = mapped_column(String(10), default="full")  # full | echo
    default_face_id: Mapped[str | None] = mapped_column(String(40), default=None)
    # A stock PAL names its stock Face by its stable stock key (Face ids differ per installation).
    default_face_stock_key: Mapped[str | None] = mapped_column(String(200), default=None)
    document_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    layers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # api keys inside are stored, never shown
    stock_key: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Document(Base):
    """A knowledge document: its extracted text and passages live under the storage's documents folder."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), index=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    document_url: Mapped[str | None] = mapped_column(Text, default=None)
    upload_id: Mapped[str | None] = mapped_column(String(16), default=None)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="started")  # started | ready | error
    kind: Mapped[str | None] = mapped_column(String(8), default=None)  # txt | md | pdf | html
    size_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    chars: Mapped[int | None] = mapped_column(Integer, default=None)
    chunks: Mapped[int | None] = mapped_column(Integer, default=None)
    error_id: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
