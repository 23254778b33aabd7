"""``/v2/conversations``: create (starts the Face's live session), get, list, end, delete, and the
interactions WebSocket for server-side apps (``x-api-key``, or the conversation's token)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from facecraft.errors import FacecraftError
from facecraft.service.conversation_service import (
    conversation_by_token,
    conversation_pal,
    create_conversation,
    delete_conversation,
    get_conversation,
    list_conversations,
)
from facecraft.service.deps import BaseUrlDep, LimitQuery, OwnerDep, PageQuery, RuntimeDep
from facecraft.service.keys import lookup_key
from facecraft.service.live import LiveConversations, error_event, session_spec
from facecraft.service.models import Conversation
from facecraft.service.runtime import Runtime
from facecraft.service.schemas import (
    ConversationCreate,
    ConversationCreated,
    ConversationDeleted,
    ConversationList,
    ConversationPublic,
)
from facecraft.service.views import conversation_view

__all__ = ["router", "get_live", "LiveDep"]

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v2/conversations", tags=["conversations"])
CREATED_FIELDS = tuple(ConversationCreated.model_fields)
# WebSocket close code of a refused handshake or of a conversation that is over (RFC 6455: policy).
WS_POLICY = 1008


def get_live(request: Request) -> LiveConversations:
    return request.app.state.live


LiveDep = Annotated[LiveConversations, Depends(get_live)]


@router.post("", response_model=ConversationCreated, summary="Start a live conversation with a Face")
async def create(
    body: ConversationCreate, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep, live: LiveDep
) -> dict[str, Any]:
    def persist() -> tuple[dict[str, Any], Any]:
        with rt.db.session() as session:
            conversation, face = create_conversation(session, rt.settings, owner_id=owner, body=body)
            spec = None
            if conversation.status == "active":
                pal = conversation_pal(session, rt.settings, rt.storage, conversation)
                spec = session_spec(conversation, Path(face.bundle_path or ""), rt.settings, pal)
            return conversation_view(conversation, base=base), spec

    view, spec = await run_in_threadpool(persist)
    if spec is not None:
        try:
            await live.start(spec)
        except BaseException:
            # No conversation was handed out: the row goes (over the cap, or the session could not start).
            await run_in_threadpool(_forget, rt, view["conversation_id"])
            raise
    return {name: view[name] for name in CREATED_FIELDS}


def _forget(rt: Runtime, conversation_id: str) -> None:
    with rt.db.session() as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is not None:
            session.delete(conversation)


@router.get("", response_model=ConversationList, summary="List conversations")
def list_(
    owner: OwnerDep,
    rt: RuntimeDep,
    base: BaseUrlDep,
    limit: LimitQuery = 10,
    page: PageQuery = 1,
    status: Annotated[str | None, Query(max_length=10, description="active | ended")] = None,
) -> dict[str, Any]:
    with rt.db.session() as session:
        rows, total = list_conversations(session, owner_id=owner, limit=limit, page=page, status=status)
        return {"data": [conversation_view(c, base=base) for c in rows], "total_count": total}


@router.get("/{conversation_id}", response_model=ConversationPublic, response_model_exclude_unset=True,
            summary="Get a conversation (?verbose=true adds its events and transcript)")
def read(conversation_id: str, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep,
         verbose: bool = False) -> dict[str, Any]:
    with rt.db.session() as session:
        conversation = get_conversation(session, owner_id=owner, conversation_id=conversation_id)
        return conversation_view(conversation, base=base, verbose=verbose)


@router.post("/{conversation_id}/end", response_model=ConversationPublic,
             summary="End a conversation (its session stops, its URL stops working); ending twice is fine")
async def end(conversation_id: str, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep,
              live: LiveDep) -> dict[str, Any]:
    await run_in_threadpool(_owned, rt, owner, conversation_id)
    await live.end(conversation_id, "ended")
    return await run_in_threadpool(_view, rt, owner, conversation_id, base)


@router.delete("/{conversation_id}", response_model=ConversationDeleted, summary="Delete a conversation")
async def delete(conversation_id: str, owner: OwnerDep, rt: RuntimeDep, live: LiveDep) -> dict[str, Any]:
    await run_in_threadpool(_owned, rt, owner, conversation_id)
    await live.end(conversation_id, "deleted")

    def work() -> None:
        with rt.db.session() as session:
            delete_conversation(session, owner_id=owner, conversation_id=conversation_id)

    await run_in_threadpool(work)
    return {"conversation_id": conversation_id, "status": "deleted"}


def _owned(rt: Runtime, owner: str, conversation_id: str) -> None:
    with rt.db.session() as session:
        get_conversation(session, owner_id=owner, conversation_id=conversation_id)


def _view(rt: Runtime, owner: str, conversation_id: str, base: str) -> dict[str, Any]:
    with rt.db.session() as session:
        return conversation_view(get_conversation(session, owner_id=owner, conversation_id=conversation_id),
                                 base=base)


# --- the interactions WebSocket -------------------------------------------------------------------


def _authorize(rt: Runtime, conversation_id: str, key: str | None, token: str | None) -> str | None:
    """The conversation's status when the caller may use it (its owner's key, or its token), else None."""
    with rt.db.session() as session:
        if token:
            conversation = conversation_by_token(session, token)
            if conversation is not None and conversation.id == conversation_id:
                return conversation.status
            return None
        if key:
            row = lookup_key(session, key)
            conversation = session.get(Conversation, conversation_id)
            if row is not None and conversation is not None and conversation.owner_id == row.id \
                    and conversation.status != "deleted":
                return conversation.status
    return None


@router.websocket("/{conversation_id}/interactions")
async def interactions(websocket: WebSocket, conversation_id: str, token: str | None = None) -> None:
    """Inbound interactions messages go to the session; its outbound events come back. A malformed,
    oversized or refused message gets an error event; the connection and the call go on."""
    rt: Runtime = websocket.app.state.runtime
    live: LiveConversations = websocket.app.state.live
    status = await run_in_threadpool(_authorize, rt, conversation_id, websocket.headers.get("x-api-key"), token)
    if status is None:
        await websocket.close(code=WS_POLICY, reason="Invalid access token")
        return
    await websocket.accept()
    if status != "active":
        await websocket.send_json(error_event(conversation_id, "conversation_ended",
                                              f"conversation {conversation_id} has ended"))
        await websocket.close(code=WS_POLICY, reason="the conversation has ended")
        return
    queue = live.subscribe(conversation_id)
    writer = asyncio.create_task(_write(websocket, queue))
    try:
        await _read(websocket, live, conversation_id, queue, rt.settings.max_interaction_bytes)
    except WebSocketDisconnect:
        pass
    finally:
        live.unsubscribe(conversation_id, queue)
        writer.cancel()


async def _write(websocket: WebSocket, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    while True:
        message = await queue.get()
        if message is None:  # the conversation ended (or this subscriber fell too far behind)
            await websocket.close(code=1000, reason="the conversation has ended")
            return
        await websocket.send_text(json.dumps(message, separators=(",", ":")))


async def _read(websocket: WebSocket, live: LiveConversations, conversation_id: str,
                queue: asyncio.Queue[dict[str, Any] | None], max_bytes: int) -> None:
    def reply(error_id: str, text: str) -> None:
        try:
            queue.put_nowait(error_event(conversation_id, error_id, text))
        except asyncio.QueueFull:
            pass

    while True:
        frame = await websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return
        raw: str | bytes | None = frame.get("text")
        if raw is None:
            raw = frame.get("bytes")
        if raw is None:
            continue
        size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
        if size > max_bytes:
            reply("invalid_input", f"the message is {size} bytes; the largest accepted is {max_bytes}")
            continue
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            reply("invalid_input", "the message is not valid JSON")
            continue
        if not isinstance(message, dict):
            reply("invalid_input", "the message must be a JSON object (the interactions envelope)")
            continue
        given = message.get("conversation_id")
        if given is not None and given != conversation_id:
            reply("invalid_input", f"conversation_id {str(given)[:60]!r} is not this conversation's")
            continue
        try:
            await live.send(conversation_id, message)
        except FacecraftError as exc:
            reply(exc.error_id, exc.message)
