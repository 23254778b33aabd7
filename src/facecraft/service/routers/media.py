"""Public media behind capability tokens (no ``x-api-key``: players and ``<video>`` tags send no header):
video files and HLS, Face previews, and the hosted page that plays a video."""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy import select

from facecraft.errors import ConflictError, NotFoundError
from facecraft.service.deps import BaseUrlDep, RuntimeDep
from facecraft.service.models import Face, Video
from facecraft.service.stock import PREVIEW
from facecraft.service.urls import HLS_DIR, VIDEO_FILE, video_media_url

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
FACE_FILES = {"thumbnail.jpg": "thumbnail.jpg", "preview.mp4": "footage.mp4"}
HLS_NAME = re.compile(r"^(index\.m3u8|seg_\d{3,6}\.ts)$")
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
}


def _file(path: Path) -> FileResponse:
    if not path.is_file():
        raise NotFoundError("file not found")
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))


def _video(rt: RuntimeDep, token: str) -> Video:
    with rt.db.session() as session:
        video = session.scalar(select(Video).where(Video.share_token == token))
    if video is None or video.status == "deleted":
        raise NotFoundError("video not found")
    return video


def _ready(video: Video) -> Video:
    """Media of a video is served once it is ``ready`` (its files were verified and moved into place):
    before that, 409 with its status; never a growing or half-written file."""
    if video.status != "ready":
        raise ConflictError(
            f"video {video.id} is not ready: {video.status} ({video.progress}/100)", status=video.status
        )
    return video


@router.get("/media/videos/{token}/video.mp4")
def video_file(token: str, rt: RuntimeDep) -> FileResponse:
    video = _ready(_video(rt, token))
    return _file(rt.storage.video_dir(video.id) / VIDEO_FILE)


@router.get("/media/videos/{token}/hls/{name}")
def video_hls(token: str, name: str, rt: RuntimeDep) -> FileResponse:
    if not HLS_NAME.match(name):
        raise NotFoundError("file not found")
    video = _ready(_video(rt, token))
    return _file(rt.storage.video_dir(video.id) / HLS_DIR / name)


@router.get("/media/faces/{token}/{name}")
def face_file(token: str, name: str, rt: RuntimeDep) -> FileResponse:
    with rt.db.session() as session:
        face = session.scalar(select(Face).where(Face.share_token == token))
    if (
        face is None
        or face.deleted_at is not None
        or face.status != "completed"
        or not face.bundle_path
        or name not in FACE_FILES
    ):
        raise NotFoundError("file not found")
    bundle = Path(face.bundle_path)
    if name == "preview.mp4" and (bundle.parent / PREVIEW).is_file():
        return _file(bundle.parent / PREVIEW)  # a stock Face's preview: the Face speaking its greeting
    return _file(bundle / FACE_FILES[name])


@router.get("/watch/{token}", response_class=HTMLResponse)
def hosted_page(token: str, rt: RuntimeDep, base: BaseUrlDep) -> HTMLResponse:
    video = _video(rt, token)
    title = html.escape(video.name or video.id)
    if video.status == "ready":
        src = html.escape(video_media_url(base, token, VIDEO_FILE))
        body = f'<video controls playsinline src="{src}" style="max-width:100%;max-height:85vh"></video>'
        body += f'<p><a href="{src}" download>Download mp4</a></p>'
        refresh = ""
    elif video.status == "error":
        body, refresh = f"<p>This video could not be made: {html.escape(video.status_details or '')}</p>", ""
    else:
        body = f"<p>This video is being made ({video.progress}/100). The page refreshes by itself.</p>"
        refresh = '<meta http-equiv="refresh" content="5">'
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title></head>'
        f'<body style="font-family:sans-serif;margin:2rem"><h1>{title}</h1>{body}</body></html>'
    )
    return HTMLResponse(page)
