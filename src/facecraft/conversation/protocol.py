"""The interactions protocol (API.md "Conversations"): inbound messages checked, outbound events built.

Inbound: ``conversation.echo`` (``text``, or ``audio`` as base64 16-bit PCM with ``sample_rate``;
``inference_id``; ``done``), ``conversation.interrupt``; with a PAL (full mode) also
``conversation.respond`` (``text``: the caller's turn), ``conversation.overwrite_llm_context`` and
``conversation.append_llm_context`` (``context``); those three are refused in echo mode. Every problem with a
message is a ``ProtocolError`` that the session answers with a ``conversation.error`` event; nothing a
client sends ends the session.

Outbound: the envelope ``{message_type: "conversation", event_type, conversation_id, properties}``
plus ``seq`` (1, 2, ... per session), ``turn_idx`` (which turn of the conversation the event belongs
to), ``inference_id`` (the reply it is about, or null) and ``timestamp`` (ISO 8601, UTC).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from facecraft.errors import InputError
from facecraft.perform.script import parse_script
from facecraft.speech.text import has_speakable

__all__ = ["ProtocolError", "Echo", "Interrupt", "Respond", "ContextUpdate", "Outbound", "parse_inbound",
           "MAX_MESSAGE_BYTES", "INBOUND_EVENTS", "PAL_EVENTS"]

MAX_MESSAGE_BYTES = 200_000  # under the 256 KiB a data channel carries in one message: stream long audio
MAX_TEXT_CHARS = 5000
MIN_RATE, MAX_RATE = 8000, 48000
INBOUND_EVENTS = ("conversation.echo", "conversation.interrupt")
PAL_EVENTS = ("conversation.respond", "conversation.overwrite_llm_context", "conversation.append_llm_context")


class ProtocolError(InputError):
    """A message the session cannot act on; answered with a ``conversation.error`` event."""

    def __init__(self, message: str, *, inference_id: str | None = None) -> None:
        super().__init__(message)
        self.inference_id = inference_id


@dataclass(frozen=True)
class Echo:
    """Say this: ``text`` or ``audio`` (float32 mono at ``sample_rate``); ``done`` ends the inference."""

    inference_id: str
    text: str | None = None
    audio: np.ndarray | None = None
    sample_rate: int = 0
    done: bool = True


@dataclass(frozen=True)
class Interrupt:
    """Stop speaking now."""


@dataclass(frozen=True)
class Respond:
    """Treat ``text`` as the caller's turn (full mode)."""

    text: str
    inference_id: str | None = None


@dataclass(frozen=True)
class ContextUpdate:
    """Replace (``overwrite``) or extend the conversational context of the LLM (full mode)."""

    context: str
    overwrite: bool


Inbound = Echo | Interrupt | Respond | ContextUpdate
MAX_CONTEXT_CHARS = 100_000


def parse_inbound(raw: str | bytes | dict[str, Any], conversation_id: str, *, full: bool = False) -> Inbound:
    """One inbound message (a JSON text or an already decoded object) -> what to do; ProtocolError else.
    ``full``: the conversation has a PAL (the PAL messages are accepted)."""
    if isinstance(raw, dict):
        msg: Any = raw
        size = len(json.dumps(raw))
    else:
        size = len(raw)
        if size > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"the message is {size} bytes; at most {MAX_MESSAGE_BYTES} (send long audio "
                                "in chunks with done: false)")
        try:
            msg = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(f"the message is not JSON ({exc})") from exc
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"the message is {size} bytes; at most {MAX_MESSAGE_BYTES} (send long audio in "
                            "chunks with done: false)")
    if not isinstance(msg, dict):
        raise ProtocolError("the message must be a JSON object (the API.md envelope)")
    if msg.get("message_type") != "conversation":
        raise ProtocolError('message_type must be "conversation"')
    event = msg.get("event_type")
    props = msg.get("properties", {})
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise ProtocolError("properties must be an object")
    inference_id = props.get("inference_id")
    if inference_id is not None and (not isinstance(inference_id, str) or not inference_id or
                                     len(inference_id) > 200):
        raise ProtocolError("inference_id must be a non-empty string of at most 200 characters")
    cid = msg.get("conversation_id")
    if cid is not None and cid != conversation_id:
        raise ProtocolError(f"conversation_id {cid!r} is not this conversation", inference_id=inference_id)
    if event == "conversation.interrupt":
        return Interrupt()
    if event == "conversation.echo":
        return _echo(props, inference_id or uuid.uuid4().hex)
    if event in PAL_EVENTS and full:
        return _pal_message(event, props, inference_id)
    if event in PAL_EVENTS:
        raise ProtocolError(f"{event} needs a PAL; this conversation is in echo mode (use conversation.echo)",
                            inference_id=inference_id)
    known = INBOUND_EVENTS + (PAL_EVENTS if full else ())
    raise ProtocolError(f"unknown event_type {event!r}; known: {', '.join(known)}",
                        inference_id=inference_id)


def _pal_message(event: str, props: dict[str, Any], inference_id: str | None) -> Respond | ContextUpdate:
    if event == "conversation.respond":
        text = props.get("text")
        if not isinstance(text, str) or not has_speakable(text):
            raise ProtocolError("conversation.respond needs text: what the caller says", inference_id=inference_id)
        if len(text) > MAX_TEXT_CHARS:
            raise ProtocolError(f"text is {len(text)} characters; at most {MAX_TEXT_CHARS} per message",
                                inference_id=inference_id)
        return Respond(text.strip(), inference_id)
    context = props.get("context")
    if not isinstance(context, str):
        raise ProtocolError(f"{event} needs context: a string", inference_id=inference_id)
    if len(context) > MAX_CONTEXT_CHARS:
        raise ProtocolError(f"context is {len(context)} characters; at most {MAX_CONTEXT_CHARS}",
                            inference_id=inference_id)
    return ContextUpdate(context.strip(), overwrite=event == "conversation.overwrite_llm_context")


def _echo(props: dict[str, Any], inference_id: str) -> Echo:
    done = props.get("done", True)
    if not isinstance(done, bool):
        raise ProtocolError("done must be true or false", inference_id=inference_id)
    text, audio = props.get("text"), props.get("audio")
    modality = props.get("modality")
    if modality not in (None, "text", "audio"):
        raise ProtocolError('modality must be "text" or "audio"', inference_id=inference_id)
    if (text is None) == (audio is None):
        if done and text is None and audio is None:  # the end of a streamed inference, nothing more to say
            return Echo(inference_id, text="", done=True)
        raise ProtocolError("conversation.echo takes either text or audio", inference_id=inference_id)
    if text is not None:
        if not isinstance(text, str):
            raise ProtocolError("text must be a string", inference_id=inference_id)
        if len(text) > MAX_TEXT_CHARS:
            raise ProtocolError(f"text is {len(text)} characters; at most {MAX_TEXT_CHARS} per message",
                                inference_id=inference_id)
        if not text.strip():
            if done:
                return Echo(inference_id, text="", done=True)
            raise ProtocolError("text is empty", inference_id=inference_id)
        try:
            words = parse_script(text).text
        except InputError as exc:  # a malformed or unknown emotion tag, nothing but tags
            raise ProtocolError(exc.message, inference_id=inference_id) from exc
        if not has_speakable(words):
            raise ProtocolError("text has nothing to say (only punctuation or tags)", inference_id=inference_id)
        return Echo(inference_id, text=text, done=done)
    rate = props.get("sample_rate")
    if not isinstance(rate, int) or isinstance(rate, bool) or not MIN_RATE <= rate <= MAX_RATE:
        raise ProtocolError(f"audio needs sample_rate, an integer from {MIN_RATE} to {MAX_RATE}",
                            inference_id=inference_id)
    if not isinstance(audio, str):
        raise ProtocolError("audio must be base64 of 16-bit little-endian mono PCM", inference_id=inference_id)
    try:
        pcm = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"audio is not valid base64 ({exc})", inference_id=inference_id) from exc
    if len(pcm) % 2:
        raise ProtocolError("audio must be 16-bit PCM (an even number of bytes)", inference_id=inference_id)
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    return Echo(inference_id, audio=samples, sample_rate=rate, done=done)


class Outbound:
    """Builds a session's outbound events: one ``seq`` counter, the current ``turn_idx``."""

    def __init__(self, conversation_id: str) -> None:
        self.conversation_id = conversation_id
        self.seq = 0
        self.turn_idx = 0

    def next_turn(self) -> None:
        self.turn_idx += 1

    def event(self, event_type: str, properties: dict[str, Any] | None = None, *,
              inference_id: str | None = None) -> dict[str, Any]:
        self.seq += 1
        props = dict(properties or {})
        if inference_id is not None:
            props.setdefault("inference_id", inference_id)
        return {
            "message_type": "conversation",
            "event_type": event_type,
            "conversation_id": self.conversation_id,
            "properties": props,
            "seq": self.seq,
            "turn_idx": self.turn_idx,
            "inference_id": inference_id,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }

    def error(self, exc: InputError, inference_id: str | None = None) -> dict[str, Any]:
        return self.event("conversation.error", {"error": exc.error_id, "message": exc.message},
                          inference_id=inference_id)
