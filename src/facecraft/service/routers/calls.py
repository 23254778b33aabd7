"""The hosted call page (``conversation_url``) and what it calls, all behind the conversation's capability
token instead of an API key (a browser joining a call has none): the WebRTC offer, and leaving.

The token stops working when the conversation ends: the page answers 410 with a sentence, the offer 409.
"""

from __future__ import annotations

import html
import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from facecraft.errors import ConflictError, NotFoundError
from facecraft.service.conversation_service import conversation_by_token
from facecraft.service.deps import BaseUrlDep, RuntimeDep
from facecraft.service.models import Conversation, Face
from facecraft.service.routers.conversations import LiveDep
from facecraft.service.runtime import Runtime
from facecraft.service.schemas import SessionAnswer, SessionOffer
from facecraft.service.urls import conversation_url, face_media_url

__all__ = ["router", "CALL_PAGE"]

router = APIRouter(include_in_schema=False)


CALL_PAGE = "call/index.html"  # under facecraft.web.STATIC_DIR


def _page_template() -> str:
    from facecraft.web import STATIC_DIR

    return (STATIC_DIR / CALL_PAGE).read_text(encoding="utf-8")


def _conversation(rt: Runtime, token: str) -> tuple[Conversation, Face | None]:
    with rt.db.session() as session:
        conversation = conversation_by_token(session, token)
        if conversation is None:
            raise NotFoundError("conversation not found")
        return conversation, session.get(Face, conversation.face_id)


def _active(rt: Runtime, token: str) -> Conversation:
    conversation, _ = _conversation(rt, token)
    if conversation.status != "active":
        raise ConflictError(f"conversation {conversation.id} has ended", status=conversation.status)
    return conversation


def _message_page(title: str, text: str, status: int) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/call/call.css"></head>'
        f'<body class="call-message"><main><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></main>'
        "</body></html>"
    )
    return HTMLResponse(page, status_code=status)


@router.get("/call/{token}", response_class=HTMLResponse)
async def call_page(token: str, rt: RuntimeDep, base: BaseUrlDep) -> HTMLResponse:
    try:
        conversation, face = await run_in_threadpool(_conversation, rt, token)
    except NotFoundError:
        return _message_page("Call not found", "This call link is not valid.", 404)
    if conversation.status != "active":
        reason = conversation.shutdown_reason or "ended"
        return _message_page("This call has ended", f"The conversation is over ({reason}).", 410)
    face_name = (face.name if face is not None else "") or "the Face"
    config = {
        "conversation_id": conversation.id,
        "conversation_name": conversation.name,
        "face_name": face_name,
        "offer_url": conversation_url(base, token) + "/offer",
        "leave_url": conversation_url(base, token) + "/leave",
        "ice_servers": [server.as_dict() for server in rt.settings.ice_servers],
        "audio_only": bool(conversation.options.get("audio_only")),
        "captions": bool(conversation.properties.get("enable_closed_captions", True)),
        "poster": face_media_url(base, face.share_token, "thumbnail.jpg") if face is not None else None,
    }
    # JSON inside <script>: "<" escaped so that no value can close the element.
    data = json.dumps(config).replace("<", "\\u003c")
    page = _page_template().replace("{{TITLE}}", html.escape(f"Talk to {face_name}")).replace("{{CONFIG}}", data)
    return HTMLResponse(page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


@router.post("/call/{token}/offer", response_model=SessionAnswer)
async def offer(token: str, body: SessionOffer, rt: RuntimeDep, live: LiveDep) -> dict[str, Any]:
    conversation = await run_in_threadpool(_active, rt, token)
    return await live.offer(conversation.id, body.sdp, body.type)


@router.post("/call/{token}/leave")
async def leave(token: str, rt: RuntimeDep, live: LiveDep) -> dict[str, str]:
    """The Leave button: the conversation ends now (reason ``participant_left``)."""
    conversation, _ = await run_in_threadpool(_conversation, rt, token)
    if conversation.status == "active":
        await live.end(conversation.id, "participant_left")
    return {"conversation_id": conversation.id, "status": "ended"}
