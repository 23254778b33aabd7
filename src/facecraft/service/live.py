"""The server's live side: one ``SessionManager`` per app (each session its own process, under the cap of
``max_conversations``), WebRTC signalling and interactions forwarded to it, and its events turned into
database updates (ended + reason, events, transcript), webhooks (``system.replica_joined``,
``system.shutdown``) and messages to the conversation's WebSocket subscribers.

Everything here runs on the server's event loop; database work goes to a worker thread so that a slow
query never stalls the signalling or the WebSockets of other calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from anyio import to_thread

from facecraft.conversation import SessionEvent, SessionManager, SessionSpec
from facecraft.service.conversation_service import (
    end_orphaned_conversations,
    mark_ended,
    record_event,
    record_utterance,
)
from facecraft.service.db import Database
from facecraft.service.models import Conversation, utcnow
from facecraft.service.settings import Settings
from facecraft.service.views import iso
from facecraft.service.webhooks import WebhookSender

__all__ = ["LiveConversations", "session_spec", "ERROR_EVENT", "error_event"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# Messages queued for one WebSocket subscriber; a subscriber this far behind is disconnected (it would
# otherwise hold the server's memory while it does not read).
SUBSCRIBER_QUEUE = 1000
# Event of the interactions protocol that reports a message the server could not take.
ERROR_EVENT = "conversation.error"
UTTERANCE_EVENT = "conversation.utterance"
STREAMING_EVENT = "conversation.utterance.streaming"
STOPPED_EVENT = "conversation.replica.stopped_speaking"
TRANSCRIPT_EVENT = "application.transcription_ready"


def error_event(conversation_id: str, error_id: str, message: str) -> dict[str, Any]:
    """An outbound error in the interactions envelope (API.md): the sender learns what was wrong and the
    session goes on."""
    return {
        "message_type": "conversation",
        "event_type": ERROR_EVENT,
        "conversation_id": conversation_id,
        "properties": {"error": error_id, "message": message},
        "timestamp": iso(utcnow()),
    }


def session_spec(conversation: Conversation, bundle_dir: Path, settings: Settings,
                 pal: dict[str, Any] | None = None) -> SessionSpec:
    """What the session process needs to know: the Face, the timeouts, the ICE servers, the PAL
    (``conversation_service.conversation_pal``) in full mode."""
    props = conversation.properties
    return SessionSpec(
        conversation_id=conversation.id,
        bundle_dir=bundle_dir,
        voice=None,  # the Face's own voice (a photo Face's stock voice is in its bundle)
        mode=conversation.mode,
        max_call_duration_s=float(props["max_call_duration"]),
        participant_left_timeout_s=float(props["participant_left_timeout"]),
        participant_absent_timeout_s=float(props["participant_absent_timeout"]),
        ice_servers=tuple(server.as_dict() for server in settings.ice_servers),
        custom_greeting=conversation.custom_greeting,
        conversational_context=conversation.conversational_context,
        pal=pal,
    )


class LiveConversations:
    """Created in the app's lifespan; ``close()`` ends every session when the server stops."""

    def __init__(self, settings: Settings, db: Database, webhooks: WebhookSender) -> None:
        self.settings = settings
        self.db = db
        self.webhooks = webhooks
        self.manager = SessionManager(settings.max_conversations, self._on_event)
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = {}
        self._spoken: dict[tuple[str, str], list[str]] = {}  # sentences of a turn still being said

    async def recover(self) -> None:
        """Conversations left ``active`` by a previous server process on this host end with a reason."""

        def work() -> list[tuple[str, str | None, str, str]]:
            with self.db.session() as session:
                return [(c.id, c.callback_url, c.face_id, c.shutdown_reason or "") for c in
                        end_orphaned_conversations(session)]

        for conversation_id, callback, face_id, reason in await self._db(work):
            self._shutdown_webhook(conversation_id, callback, face_id, reason)

    # --- sessions --------------------------------------------------------------------------------

    async def start(self, spec: SessionSpec) -> None:
        await self.manager.start(spec)

    async def offer(self, conversation_id: str, sdp: str, type_: str) -> dict[str, Any]:
        return await self.manager.offer(conversation_id, sdp, type_)

    async def send(self, conversation_id: str, message: dict[str, Any]) -> None:
        await self.manager.send(conversation_id, message)

    async def end(self, conversation_id: str, reason: str) -> None:
        """End the session (idempotent) and the conversation, firing ``system.shutdown`` once."""
        try:
            await self.manager.end(conversation_id, reason)
        finally:
            await self._ended(conversation_id, reason)

    def active(self) -> int:
        return self.manager.active()

    async def close(self) -> None:
        """Server shutdown: every session ends (reason from the manager) and every subscriber is closed."""
        try:
            await self.manager.close()
        finally:
            for conversation_id in list(self._subscribers):
                self._close_subscribers(conversation_id)

    # --- WebSocket subscribers -------------------------------------------------------------------

    def subscribe(self, conversation_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.setdefault(conversation_id, set()).add(queue)
        return queue

    def unsubscribe(self, conversation_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        queues = self._subscribers.get(conversation_id)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._subscribers[conversation_id]

    def publish(self, conversation_id: str, message: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(conversation_id, ())):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("a WebSocket subscriber of %s stopped reading: disconnected", conversation_id)
                self._drop(conversation_id, queue)

    def _drop(self, conversation_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Close one subscriber: its writer sends what is queued, then closes on None (a subscriber that
        fell behind loses its backlog instead)."""
        self.unsubscribe(conversation_id, queue)
        if queue.full():
            while not queue.empty():
                queue.get_nowait()
        queue.put_nowait(None)

    def _close_subscribers(self, conversation_id: str) -> None:
        for queue in list(self._subscribers.get(conversation_id, ())):
            self._drop(conversation_id, queue)

    # --- events from the sessions ----------------------------------------------------------------

    async def _on_event(self, event: SessionEvent) -> None:
        try:
            if event.kind == "message" and event.message is not None:
                await self._message(event.conversation_id, event.message)
            elif event.kind == "joined":
                await self._joined(event.conversation_id)
            elif event.kind == "left":
                await self._log_event(event.conversation_id, "participant_left", None)
            elif event.kind == "shutdown":
                await self._ended(event.conversation_id, event.reason or "ended")
        except Exception:  # an event must never take the manager's loop down with it
            log.exception("handling %s of %s failed", event.kind, event.conversation_id)

    async def _message(self, conversation_id: str, message: dict[str, Any]) -> None:
        """Forward an outbound event; what the Face said goes to the transcript when its turn ends (the
        sentences of ``conversation.utterance.streaming``), or at once from a ``conversation.utterance``."""
        self.publish(conversation_id, message)
        kind, props = message.get("event_type"), message.get("properties") or {}
        key = (conversation_id, str(message.get("inference_id") or props.get("inference_id") or ""))
        text = props.get("speech") or props.get("text")
        role = str(props.get("role") or "replica")
        if kind == STREAMING_EVENT and isinstance(text, str) and text:
            self._spoken.setdefault(key, []).append(text)
            return
        if kind == UTTERANCE_EVENT and isinstance(text, str) and text:
            self._spoken.pop(key, None)
        elif kind == STOPPED_EVENT and key in self._spoken:
            text, role = " ".join(self._spoken.pop(key)), "replica"
        else:
            return

        def work() -> None:
            with self.db.session() as session:
                record_utterance(session, conversation_id, role, str(text))

        await self._db(work)

    async def _joined(self, conversation_id: str) -> None:
        row = await self._log_event(conversation_id, "system.replica_joined", None)
        if row is not None:
            callback, face_id = row
            self.webhooks.send(callback, _system_payload(conversation_id, "system.replica_joined",
                                                         callback, {"replica_id": face_id}))

    async def _ended(self, conversation_id: str, reason: str) -> None:
        def work() -> tuple[str | None, str, list[Any]] | None:
            with self.db.session() as session:
                conversation = mark_ended(session, conversation_id, reason)
                if conversation is None:
                    return None
                record_event(session, conversation_id, _event("system.shutdown", reason))
                transcript = [{"role": "user" if t["role"] == "user" else "assistant", "content": t["content"]}
                              for t in conversation.transcript or []]
                return conversation.callback_url, conversation.face_id, transcript

        ended = await self._db(work)
        for key in [k for k in self._spoken if k[0] == conversation_id]:
            del self._spoken[key]
        if ended is not None:  # the WebSocket subscribers hear why, then their sockets close
            self.publish(conversation_id, _system_payload(conversation_id, "system.shutdown", None,
                                                          {"shutdown_reason": reason}))
        self._close_subscribers(conversation_id)
        if ended is not None:
            callback, face_id, transcript = ended
            self._shutdown_webhook(conversation_id, callback, face_id, reason)
            # the whole conversation as its transcript (Tavus: application.transcription_ready, roles
            # "user" and "assistant" as in an LLM context)
            self.webhooks.send(callback, {**_system_payload(conversation_id, TRANSCRIPT_EVENT, callback, {
                "replica_id": face_id, "transcript": transcript}), "message_type": "application"})

    def _shutdown_webhook(self, conversation_id: str, callback: str | None, face_id: str, reason: str) -> None:
        props = {"replica_id": face_id, "shutdown_reason": reason}
        self.webhooks.send(callback, _system_payload(conversation_id, "system.shutdown", callback, props))

    async def _log_event(self, conversation_id: str, kind: str, reason: str | None) -> tuple[str | None, str] | None:
        def work() -> tuple[str | None, str] | None:
            with self.db.session() as session:
                conversation = session.get(Conversation, conversation_id)
                if conversation is None or conversation.status != "active":
                    return None
                record_event(session, conversation_id, _event(kind, reason))
                return conversation.callback_url, conversation.face_id

        return await self._db(work)

    async def _db(self, work: Callable[[], T]) -> T:
        return await to_thread.run_sync(work)


def _event(kind: str, reason: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {"event_type": kind, "timestamp": iso(utcnow())}
    if reason is not None:
        event["reason"] = reason
    return event


def _system_payload(conversation_id: str, event_type: str, callback: str | None,
                    properties: dict[str, Any]) -> dict[str, Any]:
    """A webhook in the Tavus shape: ``{message_type: "system", event_type, conversation_id, properties,
    webhook_url, timestamp}``."""
    return {
        "message_type": "system",
        "event_type": event_type,
        "conversation_id": conversation_id,
        "properties": properties,
        "webhook_url": callback,
        "timestamp": iso(utcnow()),
    }

