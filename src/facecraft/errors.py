"""One exception tree for the whole project.

Every error a caller can see carries an ``error_id`` from ``reference/API.md`` (``video_processing``,
``audio_processing``, ...) and a human sentence. Third-party errors (PyAV, MediaPipe, PocketSphinx,
Piper) are translated at the package boundary with ``raise ... from exc``.
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
]


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
    """The caller gave something unusable (empty text, bad option)."""

    default_error_id = "invalid_input"


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
