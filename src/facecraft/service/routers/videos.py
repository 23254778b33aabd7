"""``/v2/videos``: script or audio → video, with progress, download, HLS stream and a hosted page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from facecraft.errors import InputError
from facecraft.service.deps import BaseUrlDep, LimitQuery, OwnerDep, PageQuery, RuntimeDep
from facecraft.service.schemas import (
    VideoCreate,
    VideoCreated,
    VideoDeleted,
    VideoList,
    VideoPublic,
    VideoRename,
)
from facecraft.service.video_service import create_video, delete_video, get_video, list_videos
from facecraft.service.views import video_view

__all__ = ["router"]

router = APIRouter(prefix="/v2/videos", tags=["videos"])


@router.post("", response_model=VideoCreated, summary="Create a video from a script or an audio file")
def create(body: VideoCreate, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep) -> dict[str, Any]:
    if body.replica_id and body.face_id and body.replica_id != body.face_id:
        raise InputError("replica_id and face_id name different Faces")
    face_id = body.replica_id or body.face_id
    if not face_id:
        raise InputError("replica_id (or face_id) is required")
    unsupported = [
        name
        for name in ("background_url", "background_source_url", "watermark_image_url")
        if getattr(body, name)
    ] + (["transparent_background"] if body.transparent_background else [])
    if unsupported:
        # The engine composes the Face's own footage only; say so instead of silently ignoring them.
        raise InputError(f"not supported by this deployment yet: {', '.join(unsupported)}")
    options = body.model_dump(
        include={
            "background_url",
            "background_source_url",
            "fast",
            "transparent_background",
            "watermark_image_url",
        }
    )
    options["base_url"] = base
    with rt.db.session() as session:
        video = create_video(
            session,
            rt.settings,
            owner_id=owner,
            face_id=face_id,
            script=body.script,
            audio_url=body.audio_url,
            audio_upload_id=body.audio_upload_id,
            name=body.video_name,
            callback_url=body.callback_url,
            options=options,
            emotion=body.emotion,
            emotion_intensity=body.emotion_intensity,
        )
        view = video_view(video, base=base)
    rt.wake_workers()
    return {
        "video_id": view["video_id"],
        "video_name": view["video_name"],
        "status": view["status"],
        "hosted_url": view["hosted_url"],
        "created_at": view["created_at"],
    }


@router.get("", response_model=VideoList, summary="List videos")
def list_(
    owner: OwnerDep,
    rt: RuntimeDep,
    base: BaseUrlDep,
    limit: LimitQuery = 10,
    page: PageQuery = 1,
) -> dict[str, Any]:
    with rt.db.session() as session:
        rows, total = list_videos(session, owner_id=owner, limit=limit, page=page)
        return {"data": [video_view(v, base=base) for v in rows], "total_count": total}


@router.get("/{video_id}", response_model=VideoPublic, summary="Get a video")
def read(video_id: str, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep) -> dict[str, Any]:
    with rt.db.session() as session:
        return video_view(get_video(session, owner_id=owner, video_id=video_id), base=base)


@router.patch("/{video_id}/name", response_model=VideoPublic, summary="Rename a video")
def rename(
    video_id: str, body: VideoRename, owner: OwnerDep, rt: RuntimeDep, base: BaseUrlDep
) -> dict[str, Any]:
    with rt.db.session() as session:
        video = get_video(session, owner_id=owner, video_id=video_id)
        video.name = body.video_name
        session.flush()
        return video_view(video, base=base)


@router.delete("/{video_id}", response_model=VideoDeleted, summary="Delete a video and its files")
def delete(video_id: str, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    with rt.db.session() as session:
        delete_video(session, rt.storage, owner_id=owner, video_id=video_id)
        return {"video_id": video_id, "status": "deleted"}
