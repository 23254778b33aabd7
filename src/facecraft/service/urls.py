"""Public URLs handed out in responses and webhooks.

Media files are served under capability URLs (``/media/<kind>/<token>/...``) because browsers and
players fetch them without an ``x-api-key`` header, like a pre-signed object-store link.
"""

from __future__ import annotations

__all__ = ["VIDEO_FILE", "HLS_DIR", "PLAYLIST", "HLS_INDEX", "face_media_url", "video_media_url", "hosted_url",
           "video_urls", "conversation_url", "interactions_url"]

VIDEO_FILE = "video.mp4"  # a rendered video, in its folder
HLS_DIR = "hls"  # its HLS segments, in this folder next to it
PLAYLIST = "index.m3u8"  # their playlist
HLS_INDEX = f"{HLS_DIR}/{PLAYLIST}"


def face_media_url(base: str, token: str, name: str) -> str:
    return f"{base.rstrip('/')}/media/faces/{token}/{name}"


def video_media_url(base: str, token: str, name: str) -> str:
    return f"{base.rstrip('/')}/media/videos/{token}/{name}"


def hosted_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/watch/{token}"


def video_urls(base: str, token: str, *, ready: bool = True) -> dict[str, str | None]:
    """A video's ``download_url``, ``stream_url`` (None until it is ready) and ``hosted_url``."""
    return {
        "download_url": video_media_url(base, token, VIDEO_FILE) if ready else None,
        "stream_url": video_media_url(base, token, HLS_INDEX) if ready else None,
        "hosted_url": hosted_url(base, token),
    }


def conversation_url(base: str, token: str) -> str:
    """The hosted call page; ``/offer`` under it takes the WebRTC offer, ``/interactions`` is its WebSocket."""
    return f"{base.rstrip('/')}/call/{token}"


def interactions_url(base: str, conversation_id: str) -> str:
    """The interactions WebSocket of a conversation for server-side apps (``x-api-key``)."""
    ws_base = "ws" + base.rstrip("/")[4:] if base.startswith("http") else base.rstrip("/")
    return f"{ws_base}/v2/conversations/{conversation_id}/interactions"
