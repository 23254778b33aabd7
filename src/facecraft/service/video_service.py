"""Videos: creation (persisted with its render job), listing, edits, deletion, and the render job handler
that calls the engine and then writes the HLS stream."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facecraft.audio import RATE
from facecraft.errors import FacecraftError, InputError, NotFoundError
from facecraft.service.db import page_offset
from facecraft.service.face_service import get_face
from facecraft.service.fetch import FetchLimits, check_url, fetch_to_file
from facecraft.service.hls import write_hls
from facecraft.service.ids import new_id, new_token
from facecraft.service.jobs import JobContext, cancel_jobs, enqueue
from facecraft.service.models import Face, Job, Upload, Video
from facecraft.service.publish import publish_dir, publish_file, verify_hls, verify_mp4
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage
from facecraft.service.urls import HLS_DIR, PLAYLIST, VIDEO_FILE, video_urls
from facecraft.service.webhooks import WebhookSender

__all__ = [
    "create_video",
    "get_video",
    "list_videos",
    "delete_video",
    "VideoRenderHandler",
    "fail_orphaned_videos",
]

if TYPE_CHECKING:  # the engine loads on first use: the API starts without it
    from facecraft.engine.cues import Emotion

log = logging.getLogger(__name__)
AUDIO_TYPES = ("audio/", "video/", "application/ogg")
MIN_AUDIO_S, MAX_AUDIO_S = 3.0, 600.0


def create_video(
    session: Session,
    settings: Settings,
    *,
    owner_id: str,
    face_id: str,
    script: str | None,
    audio_url: str | None,
    audio_upload_id: str | None = None,
    name: str | None = None,
    callback_url: str | None = None,
    options: dict[str, Any] | None = None,
    emotion: str | None = None,
    emotion_intensity: float | None = None,
) -> Video:
    """Validate, then persist the video and its render job (the job waits while the Face trains).
    ``emotion`` (at ``emotion_intensity``, default 1) holds until the script's first tag."""
    given = [x for x in (script, audio_url, audio_upload_id) if x is not None]
    if len(given) != 1:
        raise InputError("give exactly one of script, audio_url or audio_upload_id")
    options = dict(options or {})
    if emotion is not None or emotion_intensity is not None:
        options["emotion"] = _default_emotion(emotion, emotion_intensity).name
        options["emotion_intensity"] = _default_emotion(emotion, emotion_intensity).intensity
    if script is not None:
        from facecraft.perform.script import parse_script

        cues = parse_script(script).cues  # refused now rather than when the render starts
        options["emotions"] = [cue.to_dict() for cue in cues]
    try:
        face = get_face(session, owner_id=owner_id, face_id=face_id)
    except NotFoundError:
        raise InputError(f"unknown face_id/replica_id {face_id!r}", error_id="invalid_input") from None
    if face.status == "error":
        raise InputError(f"face {face.id} is in an error state", error_id="replica_in_error_state")
    for url, err in ((audio_url, "audio_file_download_link"), (callback_url, "invalid_input")):
        if url:
            check_url(url, allow_private=settings.allow_private_urls, error_id=err)
    if audio_upload_id is not None:
        upload = session.get(Upload, audio_upload_id)
        if upload is None or upload.owner_id != owner_id:
            raise InputError(f"unknown upload id {audio_upload_id!r}")
    video = Video(
        id=new_id("v"),
        owner_id=owner_id,
        face_id=face.id,
        name=name or "",
        status="queued",
        progress=0,
        script=script,
        audio_url=audio_url,
        audio_upload_id=audio_upload_id,
        callback_url=callback_url,
        options=options,
        share_token=new_token(),
    )
    if face.status == "started":
        video.status_details = "replica_in_training: waiting for the Face to finish training"
    session.add(video)
    session.flush()
    enqueue(session, kind=VideoRenderHandler.kind, target_id=video.id)
    return video


def _default_emotion(name: str | None, intensity: float | None) -> Emotion:
    """The request's default emotion; InputError ``unknown_emotion`` / ``invalid_emotion_intensity``."""
    from facecraft.engine.cues import Emotion

    if name is None:
        raise InputError("emotion_intensity needs an emotion", error_id="invalid_emotion_intensity")
    if intensity is not None and not math.isfinite(intensity):
        raise InputError("emotion_intensity must be a number within 0..1", error_id="invalid_emotion_intensity")
    return Emotion(name.strip().lower(), 1.0 if intensity is None else float(intensity))


def video_emotion(options: dict[str, Any] | None) -> Emotion | None:
    """The default emotion stored with a video (None: neutral until a tag says otherwise)."""
    from facecraft.engine.cues import Emotion

    name = (options or {}).get("emotion")
    if not name:
        return None
    return Emotion(str(name), float((options or {}).get("emotion_intensity", 1.0)))


def get_video(session: Session, *, owner_id: str, video_id: str) -> Video:
    video = session.get(Video, video_id)
    if video is None or video.owner_id != owner_id:
        raise NotFoundError(f"video {video_id} not found")
    return video


def list_videos(session: Session, *, owner_id: str, limit: int, page: int) -> tuple[list[Video], int]:
    query = select(Video).where(Video.owner_id == owner_id, Video.status != "deleted")
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Video.created_at.desc(), Video.id).limit(limit).offset(page_offset(page, limit))
    )
    return list(rows), int(total)


def delete_video(session: Session, storage: Storage, *, owner_id: str, video_id: str) -> None:
    video = get_video(session, owner_id=owner_id, video_id=video_id)
    cancel_jobs(session, [video.id], "the video was deleted")
    storage.remove(storage.video_dir(video.id))
    video.status, video.progress = "deleted", 0


def fail_orphaned_videos(session: Session) -> int:
    """Videos still ``queued``/``generating`` with no queued or running job end in ``error``."""
    active = select(Job.target_id).where(Job.status.in_(("queued", "running")))
    rows = session.scalars(
        select(Video).where(Video.status.in_(("queued", "generating")), Video.id.not_in(active))
    ).all()
    for video in rows:
        video.status, video.error_id = "error", "video_error"
        video.status_details = (
            "rendering was interrupted and cannot be resumed; please create the video again"
        )
    return len(rows)


class VideoRenderHandler:
    """Job ``video_render``: wait for the Face, render script or audio with the engine, add HLS."""

    kind = "video_render"
    default_error_id = "video_error"

    def __init__(self, settings: Settings, storage: Storage, webhooks: WebhookSender) -> None:
        self.settings = settings
        self.storage = storage
        self.webhooks = webhooks

    def ready(self, session: Session, job: Job) -> bool:
        video = session.get(Video, job.target_id)
        face = session.get(Face, video.face_id) if video is not None else None
        return face is None or face.status != "started"

    def requeue(self, session: Session, job: Job) -> None:
        video = session.get(Video, job.target_id)
        if video is not None and video.status != "deleted":
            video.status, video.progress = "queued", 0

    def cancelled(self, job: Job) -> None:
        self.storage.remove(self.storage.video_dir(job.target_id))

    def run(self, ctx: JobContext) -> None:
        with ctx.db.session() as session:
            video = session.get(Video, ctx.target_id)
            if video is None or video.status == "deleted":
                return
            face = session.get(Face, video.face_id)
            if (
                face is None
                or face.deleted_at is not None
                or face.status != "completed"
                or not face.bundle_path
            ):
                state = "deleted" if face is None or face.deleted_at is not None else face.status
                raise FacecraftError(f"the Face is {state}", error_id="replica_in_error_state")
            video.status, video.progress, video.status_details = "generating", 0, None
            script, audio_url, bundle_path = video.script, video.audio_url, Path(face.bundle_path)
            emotion = video_emotion(video.options)
            upload = session.get(Upload, video.audio_upload_id) if video.audio_upload_id else None
            upload_path = Path(upload.path) if upload is not None else None
        out_dir = self.storage.video_dir(ctx.target_id)
        # Everything is written under a staging folder, verified, then moved into place (publish.py):
        # the media routes never see a half-written mp4 or playlist.
        staging = out_dir / f".staging-{ctx.job_id}"
        if staging.exists():
            self.storage.remove(staging)  # a previous, interrupted attempt
        staging.mkdir(parents=True)
        staged_mp4 = staging / VIDEO_FILE
        self._render(ctx, bundle_path, script, audio_url, upload_path, staged_mp4, emotion)
        duration = verify_mp4(staged_mp4)
        ctx.progress(0.92)
        write_hls(staged_mp4, staging / HLS_DIR)
        verify_hls(staging / HLS_DIR, PLAYLIST)
        ctx.check_stop()
        publish_dir(staging / HLS_DIR, out_dir / HLS_DIR)
        publish_file(staged_mp4, out_dir / VIDEO_FILE)
        self.storage.remove(staging)
        with ctx.db.session() as session:
            video = session.get(Video, ctx.target_id)
            if video is None or video.status == "deleted":
                self.storage.remove(out_dir)  # deleted while rendering
                return
            video.status, video.progress, video.duration_s = "ready", 100, duration
            payload = {"video_id": video.id, "status": "ready", **self._urls(video)}
            callback = video.callback_url
        self.webhooks.send(callback, payload)

    def _render(
        self,
        ctx: JobContext,
        bundle_path: Path,
        script: str | None,
        audio_url: str | None,
        upload_path: Path | None,
        out_path: Path,
        emotion: Emotion | None = None,
    ) -> None:
        from facecraft import perform
        from facecraft.faces.bundle import load_bundle

        bundle = load_bundle(bundle_path)

        def on_progress(fraction: float) -> None:  # perform.render.Progress
            ctx.progress(0.9 * fraction)

        if script is not None:
            perform.render_text(bundle, script, out_path=out_path, progress=on_progress,  # its cues too
                                emotion=emotion)
            return
        if audio_url is not None:
            limits = FetchLimits(
                max_bytes=self.settings.max_audio_bytes,
                timeout_s=self.settings.fetch_timeout_s,
                allow_private=self.settings.allow_private_urls,
                content_types=AUDIO_TYPES,
                link_error="audio_file_download_link",
                size_error="audio_file_max_size",
                type_error="audio_file_type",
            )
            audio_path = fetch_to_file(audio_url, out_path.parent / "input_audio", limits=limits).path
        elif upload_path is not None and upload_path.exists():
            audio_path = upload_path
        else:
            raise FacecraftError("the audio upload is gone", error_id="audio_file_download_link")
        samples, sample_rate = _read_audio(audio_path)
        ctx.progress(0.03)
        perform.render_speech(bundle, samples, sample_rate, out_path=out_path, progress=on_progress,
                              emotion=emotion)

    def _urls(self, video: Video) -> dict[str, str | None]:
        return video_urls(self.settings.public_url or video.options.get("base_url", ""), video.share_token)

    def fail(self, session: Session, job: Job, error_id: str, message: str) -> None:
        video = session.get(Video, job.target_id)
        if video is None or video.status == "deleted":
            return
        video.status, video.error_id, video.status_details = "error", error_id, message
        payload = {"video_id": video.id, "status": "error", "error_message": message, "error_id": error_id}
        self.webhooks.send(video.callback_url, payload)


def _read_audio(path: Path) -> tuple[Any, int]:
    from facecraft import media
    from facecraft.errors import MediaError

    try:
        audio = media.read_audio(path, sample_rate=RATE, mono=True, max_s=MAX_AUDIO_S)
    except MediaError as exc:
        raise FacecraftError(
            f"the audio file cannot be read: {exc.message}", error_id="audio_file_type"
        ) from exc
    if audio.duration_s < MIN_AUDIO_S:
        raise FacecraftError(
            f"the audio is {audio.duration_s:.1f} s long; the minimum is {MIN_AUDIO_S:g} s",
            error_id="audio_file_min_duration",
        )
    if audio.duration_s > MAX_AUDIO_S:
        raise FacecraftError(
            f"the audio is {audio.duration_s:.0f} s long; the maximum is {MAX_AUDIO_S:g} s",
            error_id="audio_file_max_duration",
        )
    return audio.samples, audio.sample_rate
