"""Public JSON views of Faces and videos; field names follow the path used (``face_*`` or ``replica_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from facecraft.service.models import Conversation, Face, Video
from facecraft.service.urls import conversation_url, face_media_url, interactions_url, video_urls

__all__ = ["Naming", "FACE", "REPLICA", "face_view", "video_view", "conversation_view", "iso"]


@dataclass(frozen=True)
class Naming:
    noun: str  # "face" or "replica"

    @property
    def id(self) -> str:
        return f"{self.noun}_id"

    @property
    def name(self) -> str:
        return f"{self.noun}_name"

    @property
    def type(self) -> str:
        return f"{self.noun}_type"


FACE, REPLICA = Naming("face"), Naming("replica")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def face_view(face: Face, naming: Naming, *, base: str, verbose: bool = False) -> dict[str, Any]:
    ready = face.status == "completed"
    out: dict[str, Any] = {
        naming.id: face.id,
        naming.name: face.name,
        "status": face.status,
        "training_progress": f"{face.progress}/100",
        "error_message": face.error_message,
        "error_id": face.error_id,
        "thumbnail_video_url": face_media_url(base, face.share_token, "preview.mp4") if ready else None,
        "thumbnail_image_url": face_media_url(base, face.share_token, "thumbnail.jpg") if ready else None,
        "model_name": face.model_name,
        naming.type: face.face_type,
        "created_at": iso(face.created_at),
        "updated_at": iso(face.updated_at),
    }
    if verbose:
        out.update(
            {
                "default_voice_id": face.default_voice_id,
                "voice_name": face.voice_name,
                "callback_url": face.callback_url,
                "consent": face.consent,
                "report": face.report,
            }
        )
    return out


def video_view(video: Video, *, base: str) -> dict[str, Any]:
    ready = video.status == "ready"
    data: dict[str, Any] = {}
    if video.script is not None:
        data["script"] = video.script
    if video.audio_url is not None:
        data["audio_url"] = video.audio_url
    if video.audio_upload_id is not None:
        data["audio_upload_id"] = video.audio_upload_id
    return {
        "video_id": video.id,
        "video_name": video.name,
        "replica_id": video.face_id,
        "face_id": video.face_id,
        "status": video.status,
        "status_details": video.status_details,
        "error_id": video.error_id,
        "generation_progress": f"{video.progress}/100",
        **video_urls(base, video.share_token, ready=ready),
        "duration_s": video.duration_s,
        "data": data,
        "created_at": iso(video.created_at),
        "updated_at": iso(video.updated_at),
    }


def conversation_view(conversation: Conversation, *, base: str, verbose: bool = False) -> dict[str, Any]:
    """A conversation in both spellings (``face_id``/``replica_id``, ``pal_id``/``persona_id``)."""
    out: dict[str, Any] = {
        "conversation_id": conversation.id,
        "conversation_name": conversation.name,
        "conversation_url": conversation_url(base, conversation.token),
        "status": conversation.status,
        "face_id": conversation.face_id,
        "replica_id": conversation.face_id,
        "pal_id": conversation.pal_id,
        "persona_id": conversation.pal_id,
        "callback_url": conversation.callback_url,
        "interactions_url": interactions_url(base, conversation.id),
        "pipeline_mode": conversation.mode,
        "conversational_context": conversation.conversational_context,
        "custom_greeting": conversation.custom_greeting,
        "audio_only": bool(conversation.options.get("audio_only")),
        "properties": conversation.properties,
        "shutdown_reason": conversation.shutdown_reason,
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "ended_at": iso(conversation.ended_at),
    }
    if verbose:
        out["events"] = conversation.events
        out["transcript"] = conversation.transcript
    return out
