"""Conversations in the database: creation (validated against the Face and the deployment), lookup by id or
by the capability token of ``conversation_url``, listing, ending (once), deletion, and the events and
transcript a session reports. The live side (session processes, signalling) is ``service.live``."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facecraft.errors import InputError, NotFoundError
from facecraft.service.db import page_offset
from facecraft.service.document_service import get_document, passages_file
from facecraft.service.face_service import get_face
from facecraft.service.fetch import check_url
from facecraft.service.ids import new_id, new_token
from facecraft.service.models import Conversation, Document, Face, Pal, utcnow
from facecraft.service.pal_service import _default_face, get_pal, session_pal
from facecraft.service.schemas import ConversationCreate
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage
from facecraft.service.views import iso

__all__ = [
    "SERVER",
    "ECHO",
    "create_conversation",
    "conversation_pal",
    "ready_face",
    "get_conversation",
    "conversation_by_token",
    "list_conversations",
    "mark_ended",
    "delete_conversation",
    "record_event",
    "record_utterance",
    "end_orphaned_conversations",
]

log = logging.getLogger(__name__)
# The API process that holds a conversation's session (its process is a child of this one).
SERVER = f"{socket.gethostname()}:{os.getpid()}"
ECHO = "echo"  # pipeline_mode without a PAL: the app says what the Face speaks
STATUSES = ("active", "ended")
# Transcript entries kept per conversation (a long call's utterances beyond this are dropped, oldest kept).
MAX_TRANSCRIPT = 2000


def ready_face(session: Session, *, owner_id: str, face_id: str | None) -> Face:
    """The Face a conversation can start with: the caller's own or a stock Face, trained, with its bundle."""
    if not face_id:
        raise InputError("face_id (or replica_id) is required")
    try:
        face = get_face(session, owner_id=owner_id, face_id=face_id)
    except NotFoundError:
        raise InputError(f"unknown face_id/replica_id {face_id!r}") from None
    if face.status == "started":
        raise InputError(
            f"face {face.id} is still training ({face.progress}/100): a conversation can start once it is ready",
            error_id="replica_in_training",
        )
    if face.status != "completed" or not face.bundle_path or not Path(face.bundle_path).is_dir():
        raise InputError(f"face {face.id} is in an error state", error_id="replica_in_error_state")
    return face


def _pal_of(session: Session, *, owner_id: str, pal_id: str | None) -> Pal | None:
    """The conversation's PAL (None: echo mode without one); an unknown id is the request's error."""
    if not pal_id:
        return None
    try:
        return get_pal(session, owner_id=owner_id, pal_id=pal_id)
    except NotFoundError:
        raise InputError(f"unknown pal_id/persona_id {pal_id!r}") from None


def _check_documents(session: Session, *, owner_id: str, document_ids: list[str]) -> None:
    for document_id in document_ids:
        try:
            doc = get_document(session, owner_id=owner_id, document_id=document_id)
        except NotFoundError:
            raise InputError(f"unknown document_id {document_id!r}") from None
        if doc.status == "error":
            raise InputError(f"document {document_id} could not be read (status error): leave it out")


def conversation_pal(session: Session, settings: Settings, storage: Storage, conversation: Conversation
                     ) -> dict[str, Any] | None:
    """``SessionSpec.pal`` of a conversation: its PAL's (``session_pal``) plus the knowledge of the documents
    the conversation itself names; documents still being processed are left out."""
    if not conversation.pal_id:
        return None
    pal = session_pal(session, settings, storage, owner_id=conversation.owner_id, pal_id=conversation.pal_id)
    known = {d["document_id"] for d in pal["knowledge"]}
    extra = [d for d in conversation.options.get("document_ids") or [] if d not in known]
    for doc in session.scalars(select(Document).where(Document.id.in_(extra),
                                                      Document.owner_id == conversation.owner_id)):
        pal["knowledge"].append({"document_id": doc.id, "document_name": doc.name,
                                 "passages": str(passages_file(storage, doc.id))})
    pal["knowledge"] = [d for d in pal["knowledge"] if Path(d["passages"]).is_file()]
    return pal


def create_conversation(
    session: Session, settings: Settings, *, owner_id: str, body: ConversationCreate
) -> tuple[Conversation, Face]:
    """Validate the request and persist the conversation (``active``; ``ended`` at once in test mode)."""
    pal = _pal_of(session, owner_id=owner_id, pal_id=body.pal)
    face_id = body.face
    if not face_id and pal is not None:  # API.md: the PAL's default Face when the request names none
        face_id = _default_face(session, pal)
        if not face_id:
            raise InputError(f"face_id (or replica_id) is required: PAL {pal.id} has no default Face")
    face = ready_face(session, owner_id=owner_id, face_id=face_id)
    props = body.properties
    unsupported = [name for name in ("enable_recording", "apply_greenscreen") if getattr(props, name)]
    if unsupported:
        raise InputError(f"not supported by this deployment yet: properties.{', properties.'.join(unsupported)}")
    if body.document_ids and (pal is None or pal.pipeline_mode != "full"):
        raise InputError("document_ids need a PAL in full mode (knowledge is read by the PAL pipeline): leave "
                         "them out")
    if body.document_ids:
        _check_documents(session, owner_id=owner_id, document_ids=body.document_ids)
    if body.callback_url:
        check_url(body.callback_url, allow_private=settings.allow_private_urls, error_id="invalid_input")
    conversation = Conversation(
        id=new_id("c"),
        owner_id=owner_id,
        face_id=face.id,
        pal_id=pal.id if pal is not None else None,
        name=body.conversation_name or "",
        status="active",
        mode=pal.pipeline_mode if pal is not None else ECHO,
        conversational_context=body.conversational_context,
        custom_greeting=body.custom_greeting,
        callback_url=body.callback_url,
        properties=props.model_dump(),
        options={"audio_only": body.audio_only, "test_mode": body.test_mode,
                 "document_ids": list(body.document_ids or [])},
        token=new_token(),
        server=None if body.test_mode else SERVER,
        events=[],
        transcript=[],
    )
    if body.test_mode:
        conversation.status, conversation.shutdown_reason, conversation.ended_at = "ended", "test_mode", utcnow()
    session.add(conversation)
    session.flush()
    return conversation, face


def get_conversation(session: Session, *, owner_id: str, conversation_id: str) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.owner_id != owner_id or conversation.status == "deleted":
        raise NotFoundError(f"conversation {conversation_id} not found")
    return conversation


def conversation_by_token(session: Session, token: str) -> Conversation | None:
    """The conversation of a ``conversation_url`` token (None when unknown or deleted)."""
    if not token or len(token) > 40:
        return None
    conversation = session.scalar(select(Conversation).where(Conversation.token == token))
    if conversation is None or conversation.status == "deleted":
        return None
    return conversation


def list_conversations(
    session: Session, *, owner_id: str, limit: int, page: int, status: str | None = None
) -> tuple[list[Conversation], int]:
    query = select(Conversation).where(Conversation.owner_id == owner_id, Conversation.status != "deleted")
    if status:
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)} (got {status!r})")
        query = query.where(Conversation.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Conversation.created_at.desc(), Conversation.id)
        .limit(limit)
        .offset(page_offset(page, limit))
    )
    return list(rows), int(total)


def mark_ended(session: Session, conversation_id: str, reason: str) -> Conversation | None:
    """End an active conversation with ``reason``; the row when this call ended it, None when it had already
    ended (or is gone): the caller fires ``system.shutdown`` exactly once."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.status != "active":
        return None
    conversation.status, conversation.shutdown_reason, conversation.ended_at = "ended", reason, utcnow()
    return conversation


def delete_conversation(session: Session, *, owner_id: str, conversation_id: str) -> Conversation:
    """Mark it deleted (its token stops answering, it leaves the lists); the caller ends its session."""
    conversation = get_conversation(session, owner_id=owner_id, conversation_id=conversation_id)
    if conversation.status == "active":
        conversation.shutdown_reason, conversation.ended_at = "deleted", utcnow()
    conversation.status = "deleted"
    conversation.transcript = []
    return conversation


def record_event(session: Session, conversation_id: str, event: dict[str, Any]) -> None:
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None:
        conversation.events = [*conversation.events, event]


def record_utterance(session: Session, conversation_id: str, role: str, content: str) -> None:
    """What was said (``?verbose=true``), when the conversation keeps a transcript."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or not conversation.properties.get("enable_transcription", True):
        return
    if len(conversation.transcript) < MAX_TRANSCRIPT:
        entry = {"role": role, "content": content, "timestamp": iso(utcnow())}
        conversation.transcript = [*conversation.transcript, entry]


def end_orphaned_conversations(session: Session) -> list[Conversation]:
    """Active conversations whose session belonged to a process of this host that is gone (the server
    restarted or crashed): their sessions died with it, so they end with a reason instead of staying
    ``active`` forever. Conversations held by another host's server are left alone."""
    host = SERVER.rsplit(":", 1)[0]
    ended = []
    for conversation in session.scalars(select(Conversation).where(Conversation.status == "active")):
        owner_host, _, pid = (conversation.server or "").rpartition(":")
        if owner_host != host or conversation.server == SERVER or _alive(pid):
            continue
        conversation.status, conversation.ended_at = "ended", utcnow()
        conversation.shutdown_reason = "server_restarted"
        ended.append(conversation)
    return ended


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
