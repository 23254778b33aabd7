"""Public URLs handed out in responses and webhooks.

Media files are served under capability URLs (``/media/<kind>/<token>/...``) because browsers and
players fetch them without an ``x-api-key`` header, like a pre-signed object-store link.
"""

from __future__ import annotations

__all__ = ["face_media_url", "video_media_url", "hosted_url"]


def face_media_url(base: str, token: str, name: str) -> str:
    return f"{base.rstrip('/')}/media/faces/{token}/{name}"


def video_media_url(base: str, token: str, name: str) -> str:
    return f"{base.rstrip('/')}/media/videos/{token}/{name}"


def hosted_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/watch/{token}"
