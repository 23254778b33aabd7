"""What the server hands a live session (``SessionSpec``) and what a session reports back (``SessionEvent``).

Both cross the process boundary between the server and a session process as JSON lines, hence the
plain fields and the ``to_json``/``from_json`` pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["SessionSpec", "SessionEvent", "MODES"]

MODES = ("echo", "full")  # echo: the app says what the Face speaks; full: a PAL answers the caller


@dataclass(frozen=True)
class SessionSpec:
    """One live conversation: which Face, how it speaks, and when the session ends on its own."""

    conversation_id: str
    bundle_dir: Path  # the Face bundle (the service resolves face_id to a path)
    voice: str | None  # stock voice name for a photo Face (None: the Face's own or adapted voice)
    mode: str  # "echo" | "full" (a PAL answers: ``pal`` is set)
    max_call_duration_s: float
    participant_left_timeout_s: float
    participant_absent_timeout_s: float
    ice_servers: tuple[dict, ...]  # RTCIceServer dicts ({"urls": ..., "username", "credential"}); ()
    custom_greeting: str | None = None
    conversational_context: str | None = None
    pal: dict | None = None  # full mode: service.pal_service.session_pal(...), plain JSON
    video_size: int = 512  # the Face's video is video_size x video_size (the Face's own aspect is kept by
    # the renderer's scaling: square output for the call page)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["bundle_dir"] = str(self.bundle_dir)
        d["ice_servers"] = list(self.ice_servers)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SessionSpec:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["bundle_dir"] = Path(d["bundle_dir"])
        d["ice_servers"] = tuple(d.get("ice_servers") or ())
        return cls(**d)


@dataclass(frozen=True)
class SessionEvent:
    """Something a session reports to the server (on the server's event loop)."""

    conversation_id: str
    kind: str  # "joined" | "left" | "shutdown" | "message"
    reason: str | None = None  # shutdown: "ended", "max_call_duration", "participant_left_timeout",
    # "participant_absent_timeout", "crashed: ..."
    message: dict | None = None  # kind "message": an outbound interactions-protocol event (API.md envelope)
