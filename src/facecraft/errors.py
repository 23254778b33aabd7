"""One exception tree for the whole project, the HTTP service included.

Every error a caller can see carries an ``error_id`` and a human sentence. The ids are those of
``reference/API.md`` (``video_processing``, ``audio_processing``, ...) plus the few request-level ids
of ours listed in ``SERVICE_ERROR_IDS``; ``public_error_id`` keeps anything else (an internal id such
as ``bundle_invalid``) from reaching an API client. Third-party errors (PyAV, MediaPipe, PocketSphinx,
Piper) are translated at the package boundary with ``raise ... from exc``; the service maps classes to
HTTP statuses at its boundary (``facecraft.service.app``), never inside the layers below.
"""

from __future__ import annotations

__all__ = [
    "FacecraftError",
    "MediaError",
    "VisionError",
    "SpeechError",
    "BundleError",
    "ModelError",
    "RenderError",
    "InputError",
    "NotFoundError",
    "AuthError",
    "ConflictError",
    "TooLargeError",
    "JobBudgetError",
    "SessionLimitError",
    "DocumentError",
    "LLMError",
    "LLMTimeoutError",
    "SpeechServiceError",
    "SpeechTimeoutError",
    "CONTRACT_ERROR_IDS",
    "SERVICE_ERROR_IDS",
    "public_error_id",
]

# The error ids of reference/API.md (training video, videos), in its order.
CONTRACT_ERROR_IDS = frozenset(
    {
        "download_link", "file_size", "video_format", "video_codec", "video_codec_and_format",
        "video_duration", "video_fps", "consent_phrase_mismatch", "face_or_obstruction_detected",
        "lighting_change_detected", "background_noise_detected", "video_editing_detected",
        "excessive_movement_detected", "video_processing", "audio_processing", "quality_issue_detected",
        "hands_obstructing_face", "second_person_detected", "improper_distance", "inconsistent_distance",
        "face_turned_away", "improper_camera_angle", "poor_lighting", "teeth_not_visible",
        "other_quality_issue",
        "video_error", "replica_in_error_state", "audio_file_max_size", "audio_file_type",
        "audio_file_min_duration", "audio_file_max_duration", "audio_file_download_link",
        "replica_in_training",
    }
)
# Ours, for problems API.md gives no id to (they must be listed there): a malformed request, an unknown
# resource, a consent clip that shows someone else, an emotion API.md does not list, an emotion
# intensity outside 0..1, a malformed script tag, too many live conversations at once, a knowledge
# document that is not a readable txt, md, pdf or html file or holds no text, an LLM endpoint that
# failed or timed out, a speech (STT/TTS) endpoint that failed or timed out.
SERVICE_ERROR_IDS = CONTRACT_ERROR_IDS | {
    "invalid_input", "not_found", "consent_identity_mismatch", "unknown_emotion", "invalid_emotion_intensity",
    "invalid_script", "too_many_conversations", "document_format", "document_empty", "llm_unavailable",
    "llm_timeout", "speech_unavailable", "speech_timeout",
}


def public_error_id(error_id: str, fallback: str) -> str:
    """``error_id`` when an API client may see it, else ``fallback`` (an internal id stays inside)."""
    return error_id if error_id in SERVICE_ERROR_IDS else fallback


class FacecraftError(Exception):
    """Base of every error facecraft raises on purpose."""

    default_error_id = "other_quality_issue"

    def __init__(self, message: str, *, error_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id or self.default_error_id

    def to_dict(self) -> dict[str, str]:
        return {"error": self.error_id, "message": self.message}


class InputError(FacecraftError):
    """The caller gave something unusable (empty text, bad option, a malformed request): HTTP 400."""

    default_error_id = "invalid_input"


class NotFoundError(InputError):
    """The named resource does not exist or is not the caller's: HTTP 404."""

    default_error_id = "not_found"


class AuthError(FacecraftError):
    """No or an unknown API key: HTTP 401 with API.md's ``{"message": "Invalid access token"}``."""

    default_error_id = "invalid_input"


class ConflictError(FacecraftError):
    """The resource exists but is not in a state that allows this (media not ready yet): HTTP 409, with
    the resource's ``status`` in the body."""

    default_error_id = "invalid_input"

    def __init__(self, message: str, *, status: str, error_id: str | None = None) -> None:
        super().__init__(message, error_id=error_id)
        self.status = status


class TooLargeError(InputError):
    """A body or file over a configured size limit: HTTP 413."""

    default_error_id = "file_size"


class MediaError(FacecraftError):
    """A file could not be probed, decoded or encoded."""

    default_error_id = "video_processing"


class VisionError(FacecraftError):
    """Face detection or tracking failed."""

    default_error_id = "video_processing"


class SpeechError(FacecraftError):
    """TTS, ASR, alignment or voice processing failed, or the audio is unusable."""

    default_error_id = "audio_processing"


class BundleError(FacecraftError):
    """A Face bundle is missing, damaged or of an unknown format version."""

    default_error_id = "bundle_invalid"


class ModelError(FacecraftError):
    """A model file the project ships (or a pinned package ships) is missing or differs from its sha256.

    An installation problem, not bad input: reinstall facecraft (or the named package).
    """

    default_error_id = "model_invalid"


class RenderError(FacecraftError):
    """The engine could not render the requested video."""

    default_error_id = "video_error"


class JobBudgetError(FacecraftError):
    """A background job went over its memory or time budget and was stopped (it is not retried)."""

    default_error_id = "video_processing"


class SessionLimitError(FacecraftError):
    """As many live conversations run as the server allows (``max_sessions``): HTTP 429, try later."""

    default_error_id = "too_many_conversations"


class DocumentError(InputError):
    """A knowledge document is not a readable txt, md, pdf or html file (``document_format``), holds no
    text (``document_empty``) or is too big (``file_size``)."""

    default_error_id = "document_format"


class LLMError(FacecraftError):
    """The LLM (embedded or an OpenAI-compatible endpoint) failed: the endpoint refused, was unreachable
    or answered garbage. The conversation pipeline turns it into a short spoken apology, never a hang."""

    default_error_id = "llm_unavailable"


class LLMTimeoutError(LLMError):
    """The LLM did not start or continue its answer in time."""

    default_error_id = "llm_timeout"


class SpeechServiceError(SpeechError):
    """A speech endpoint (an OpenAI-compatible STT or TTS by URL) refused, was unreachable or answered
    something that is not what was asked (not JSON, not audio, no audio). Like :class:`LLMError`, the
    conversation pipeline turns it into a short spoken apology, never a hang."""

    default_error_id = "speech_unavailable"


class SpeechTimeoutError(SpeechServiceError):
    """A speech endpoint did not answer in time."""

    default_error_id = "speech_timeout"
