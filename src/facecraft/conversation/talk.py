"""``facecraft talk``: a local call page for one Face in echo mode, without the API server.

A small web app on this machine: the page (``talk.html``) joins a live session over WebRTC (its offer
is POSTed to ``/offer``), the text typed there goes over the data channel as ``conversation.echo``.
The session is the same one the server runs (its own process under a ``SessionManager``).
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from facecraft.conversation.manager import SessionManager
from facecraft.conversation.spec import SessionEvent, SessionSpec
from facecraft.errors import FacecraftError, InputError

__all__ = ["talk_app"]

log = logging.getLogger(__name__)


def talk_app(bundle: Path, *, voice: str | None = None, size: int = 512, greeting: str | None = None) -> Any:
    """The FastAPI app of ``facecraft talk``: one session for ``bundle``, started with the app."""
    conversation_id = f"talk-{uuid.uuid4().hex[:8]}"
    spec = SessionSpec(conversation_id=conversation_id, bundle_dir=bundle, voice=voice, mode="echo",
                       max_call_duration_s=24 * 3600.0, participant_left_timeout_s=24 * 3600.0,
                       participant_absent_timeout_s=24 * 3600.0, ice_servers=(), custom_greeting=greeting,
                       video_size=size)

    def on_event(event: SessionEvent) -> None:
        if event.kind == "shutdown":
            log.warning("the session ended: %s", event.reason)

    manager = SessionManager(1, on_event)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        await manager.start(spec)
        try:
            yield
        finally:
            await manager.close()

    app = FastAPI(title="facecraft talk", lifespan=lifespan)
    page = resources.files("facecraft.conversation").joinpath("talk.html").read_text()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.post("/offer")
    async def offer(request: Request) -> Any:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise InputError('send {"sdp": ..., "type": "offer"}')
            return await manager.offer(conversation_id, str(body.get("sdp", "")), str(body.get("type", "")))
        except FacecraftError as exc:
            return JSONResponse(exc.to_dict(), status_code=400)
        except ValueError:
            return JSONResponse({"error": "invalid_input", "message": "the body is not JSON"}, status_code=400)

    return app
