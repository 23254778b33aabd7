"""Faces: creation (persisted with its build job), visibility per key, listing, edits, deletion, and the
build job handler that calls ``faces.build.build_face``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from facecraft.errors import FacecraftError, InputError, NotFoundError
from facecraft.service.db import page_offset
from facecraft.service.fetch import FetchLimits, check_url, fetch_to_file
from facecraft.service.ids import new_id, new_token
from facecraft.service.jobs import JobContext, cancel_jobs, enqueue
from facecraft.service.models import Face, Job, Upload, Video, utcnow
from facecraft.service.settings import Settings
from facecraft.service.storage import Storage
from facecraft.service.views import iso
from facecraft.service.webhooks import WebhookSender

if TYPE_CHECKING:
    from facecraft.faces.consent import ConsentPolicy

__all__ = [
    "FaceSource",
    "create_face",
    "get_face",
    "list_faces",
    "delete_face",
    "own_face",
    "FaceBuildHandler",
    "fail_orphaned_faces",
    "check_voice_name",
    "VIDEO_TYPES",
]

log = logging.getLogger(__name__)
VIDEO_TYPES = ("video/", "application/mp4")
IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png")
MAX_IMAGE_BYTES = 25 * 1024 * 1024  # a training photo: far more than any JPG/PNG portrait needs
# Build errors after which the checks cannot say more (the file is not a readable video, or a bad option).
NO_REPORT_ERRORS = frozenset({"invalid_input", "video_format", "video_processing", "video_codec"})


@dataclass(frozen=True)
class FaceSource:
    kind: str  # "video" or "image" (a photo: footage is synthesised, the voice is a stock TTS voice)
    url: str | None = None
    upload_id: str | None = None


def create_face(
    session: Session,
    settings: Settings,
    *,
    owner_id: str,
    name: str,
    source: FaceSource,
    callback_url: str | None = None,
    consent_video_url: str | None = None,
    consent_attested: bool = False,
    voice_name: str | None = None,
    default_voice_id: str | None = None,
    model_name: str | None = None,
    options: dict[str, Any] | None = None,
) -> Face:
    """Validate the request, then persist the Face and its build job in one transaction."""
    if source.kind not in ("video", "image"):
        raise InputError(f"unknown training source kind {source.kind!r}")
    if (source.url is None) == (source.upload_id is None):
        raise InputError(f"give exactly one of train_{source.kind}_url or train_{source.kind}_upload_id")
    if source.kind == "image":
        _check_photo_voice(voice_name, default_voice_id)
    if source.url is not None:
        _check_url(source.url, settings)
    else:
        upload = session.get(Upload, source.upload_id)
        if upload is None or upload.owner_id != owner_id:
            raise InputError(f"unknown upload id {source.upload_id!r}")
    for extra in (callback_url, consent_video_url):
        if extra:
            _check_url(extra, settings)
    consent = None
    if consent_attested:
        if not settings.allow_consent_attestation:
            raise InputError(
                "consent_attested is not accepted by this deployment: the training video must open with the "
                "consent statement, or give consent_video_url (an operator can allow attestation with "
                "FACECRAFT_ALLOW_CONSENT_ATTESTATION)"
            )
        consent = {"method": "attested", "attested_by": owner_id, "at": iso(utcnow())}
    face = Face(
        id=new_id("r"),
        owner_id=owner_id,
        face_type="user",
        name=name or "",
        status="started",
        progress=0,
        model_name=model_name,
        source_kind=source.kind,
        source_url=source.url,
        source_upload_id=source.upload_id,
        consent_video_url=consent_video_url,
        consent=consent,
        callback_url=callback_url,
        voice_name=voice_name,
        default_voice_id=default_voice_id,
        options=options or {},
        share_token=new_token(),
    )
    session.add(face)
    session.flush()
    enqueue(session, kind=FaceBuildHandler.kind, target_id=face.id)
    return face


def photo_voice(voice_name: str | None, default_voice_id: str | None) -> str | None:
    """The stock voice a photo Face speaks with: ``voice_name``, else ``default_voice_id``."""
    for value in (voice_name, default_voice_id):
        if value and value.strip():
            return value.strip()
    return None


def _check_photo_voice(voice_name: str | None, default_voice_id: str | None) -> None:
    """A photo has no voice: one of the stock voices must be named (400 otherwise)."""
    from facecraft.faces.from_image import resolve_voice
    from facecraft.speech.voices import list_voices

    voice = photo_voice(voice_name, default_voice_id)
    names = ", ".join(v.voice_id for v in list_voices())
    if voice is None:
        raise InputError(
            "a photo has no voice: give voice_name or default_voice_id (a stock voice: " + names + ")",
            error_id="invalid_input",
        )
    resolve_voice(voice)


def check_voice_name(value: str | None) -> None:
    """A stock voice name given to a Face (``default_voice_id`` on PATCH) must exist: 400 listing them."""
    from facecraft.speech.voices import get_voice

    if value is not None:
        get_voice(value)  # InputError (400, invalid_input) listing the voices


def _check_url(url: str, settings: Settings) -> None:
    check_url(url, allow_private=settings.allow_private_urls)


def get_face(session: Session, *, owner_id: str, face_id: str, include_deleted: bool = False) -> Face:
    """A Face this key may see: its own or a stock (system) Face, not deleted (unless ``include_deleted``:
    a soft-deleted Face can still be hard-deleted)."""
    face = session.get(Face, face_id)
    if (
        face is None
        or (face.deleted_at is not None and not include_deleted)
        or (face.face_type != "system" and face.owner_id != owner_id)
    ):
        raise NotFoundError(f"face {face_id} not found")
    return face


def own_face(face: Face) -> Face:
    """``face`` when the caller may change it: stock Faces are read-only through the API."""
    if face.face_type == "system":
        raise InputError("stock Faces cannot be changed through the API")
    return face


def list_faces(
    session: Session,
    *,
    owner_id: str,
    limit: int,
    page: int,
    face_type: str | None = None,
    face_ids: list[str] | None = None,
) -> tuple[list[Face], int]:
    query = select(Face).where(Face.deleted_at.is_(None))
    query = query.where(or_(Face.owner_id == owner_id, Face.face_type == "system"))
    if face_type:
        query = query.where(Face.face_type == face_type)
    if face_ids:
        query = query.where(Face.id.in_(face_ids))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Face.created_at.desc(), Face.id).limit(limit).offset(page_offset(page, limit))
    ).all()
    return list(rows), int(total)


def delete_face(session: Session, storage: Storage, *, owner_id: str, face_id: str, hard: bool) -> None:
    """Soft: the Face's files go and the row is marked deleted. Hard (also after a soft delete): every byte
    of the likeness goes — bundle, thumbnails, fetched sources, the training upload, every video rendered
    from it with its HLS segments (their media URLs stop answering at once), and the row itself."""
    face = get_face(session, owner_id=owner_id, face_id=face_id, include_deleted=hard)
    if face.face_type == "system":
        raise InputError("stock Faces cannot be deleted through the API")
    cancel_jobs(session, [face.id], "the Face was deleted")
    storage.remove(storage.face_dir(face.id))
    if not hard:
        face.status, face.deleted_at, face.bundle_path = "deleted", utcnow(), None
        return
    if face.source_upload_id:
        upload = session.get(Upload, face.source_upload_id)
        if upload is not None:
            storage.remove(storage.upload_dir(upload.id))
            session.delete(upload)
    videos = session.scalars(select(Video).where(Video.face_id == face.id)).all()
    for video in videos:
        storage.remove(storage.video_dir(video.id))
        video.status, video.progress = "deleted", 0
    cancel_jobs(session, [video.id for video in videos], "the Face was deleted")
    session.delete(face)


def fail_orphaned_faces(session: Session) -> int:
    """Faces still ``started`` with no queued or running job (their job row was lost) end in ``error``."""
    active = select(Job.target_id).where(Job.status.in_(("queued", "running")))
    rows = session.scalars(
        select(Face).where(Face.status == "started", Face.deleted_at.is_(None), Face.id.not_in(active))
    ).all()
    for face in rows:
        face.status, face.error_id = "error", "video_processing"
        face.error_message = "training was interrupted and cannot be resumed; please create the Face again"
    return len(rows)


class FaceBuildHandler:
    """Job ``face_build``: fetch or pick up the training video or photo, build the bundle, keep the report."""

    kind = "face_build"
    default_error_id = "video_processing"

    def __init__(self, settings: Settings, storage: Storage, webhooks: WebhookSender) -> None:
        self.settings = settings
        self.storage = storage
        self.webhooks = webhooks

    def ready(self, session: Session, job: Job) -> bool:
        return True

    def requeue(self, session: Session, job: Job) -> None:
        face = session.get(Face, job.target_id)
        if face is not None and face.deleted_at is None:
            face.status, face.progress = "started", 0

    def cancelled(self, job: Job) -> None:
        self.storage.remove(self.storage.face_dir(job.target_id))

    def run(self, ctx: JobContext) -> None:
        with ctx.db.session() as session:
            face = session.get(Face, ctx.target_id)
            if face is None or face.deleted_at is not None:
                return
            name, url, upload_id = face.name or face.id, face.source_url, face.source_upload_id
            kind = face.source_kind or "video"
            voice = photo_voice(face.voice_name, face.default_voice_id)
            auto_fix = bool((face.options or {}).get("auto_fix_training_image"))
            upload = session.get(Upload, upload_id) if upload_id else None
            upload_path = Path(upload.path) if upload is not None else None
            consent_url, consent_record = face.consent_video_url, dict(face.consent or {})
        face_dir = self.storage.face_dir(ctx.target_id)
        work = face_dir / "bundles"
        if work.exists():
            self.storage.remove(work)  # a previous, interrupted attempt
        work.mkdir(parents=True)
        if url:
            image = kind == "image"
            limits = FetchLimits(
                max_bytes=min(self.settings.max_fetch_bytes, MAX_IMAGE_BYTES) if image
                else self.settings.max_fetch_bytes,
                timeout_s=self.settings.fetch_timeout_s,
                allow_private=self.settings.allow_private_urls,
                content_types=IMAGE_TYPES if image else VIDEO_TYPES,
            )
            video_path = fetch_to_file(url, face_dir / "source" / f"train_{kind}", limits=limits).path
        elif upload_path is not None and upload_path.exists():
            video_path = upload_path
        else:
            raise FacecraftError("the training upload is gone", error_id="download_link")
        ctx.progress(0.05)
        if kind == "image":
            bundle_path, report = self._build_photo(ctx, video_path, name=name, out_dir=work, voice=voice,
                                                    auto_fix=auto_fix)
            consent = consent_record or None
        else:
            policy = self._consent_policy(face_dir, consent_url, consent_record)
            bundle_path, report = self._build(ctx, video_path, name=name, out_dir=work, consent=policy)
            from facecraft.faces.bundle import load_bundle

            consent = load_bundle(bundle_path).manifest.get("consent")
        with ctx.db.session() as session:
            face = session.get(Face, ctx.target_id)
            if face is None or face.deleted_at is not None:
                # Deleted while it was being built: what the build wrote must not outlive it.
                self.storage.remove(face_dir)
                return
            face.status, face.progress, face.bundle_path = "completed", 100, str(bundle_path)
            face.report = report
            face.consent = consent
            face.error_id = face.error_message = None
            callback = face.callback_url
        self.webhooks.send(callback, {"face_id": ctx.target_id, "status": "ready"})

    def _consent_policy(
        self, face_dir: Path, consent_url: str | None, record: dict[str, Any]
    ) -> ConsentPolicy:
        """Attested (allowed by the deployment and recorded at creation), a consent clip (fetched here),
        or the statement in the training video."""
        from facecraft.faces.consent import ConsentPolicy

        if record.get("method") == "attested":
            return ConsentPolicy("attested", attested_by=record.get("attested_by"),
                                 details={"at": record.get("at")})
        if consent_url:
            limits = FetchLimits(
                max_bytes=self.settings.max_fetch_bytes,
                timeout_s=self.settings.fetch_timeout_s,
                allow_private=self.settings.allow_private_urls,
                content_types=VIDEO_TYPES,
            )
            clip = fetch_to_file(consent_url, face_dir / "source" / "consent_clip", limits=limits).path
            return ConsentPolicy("clip", clip_path=str(clip), details={"clip_url": consent_url})
        return ConsentPolicy("statement")

    def _build(
        self, ctx: JobContext, video_path: Path, *, name: str, out_dir: Path, consent: ConsentPolicy
    ) -> tuple[Path, dict]:
        from facecraft import media
        from facecraft.faces.build import build_face

        info = media.probe(video_path)  # fails fast with video_format / video_processing
        source_range = None
        limit = self.settings.max_training_seconds
        if limit > 0 and info.duration_s > limit:
            source_range = (0.0, float(limit))

        return self._run_build(
            ctx,
            lambda progress: build_face(
                video_path,
                name=name,
                out_dir=out_dir,
                progress=progress,
                source_range=source_range,
                face_id=ctx.target_id,
                consent=consent,
            ),
            recheck=video_path,
        )

    def _build_photo(
        self,
        ctx: JobContext,
        image_path: Path,
        *,
        name: str,
        out_dir: Path,
        voice: str | None,
        auto_fix: bool,
    ) -> tuple[Path, dict]:
        """A photo Face: ``faces.from_image`` synthesises the footage; the report is the photo's checks."""
        from facecraft.faces.from_image import build_face_from_image

        if image_path.stat().st_size > MAX_IMAGE_BYTES:
            raise InputError(f"the photo is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB", error_id="file_size")

        log.info("building photo Face %s (voice %s, auto_fix %s)", ctx.target_id, voice, auto_fix)
        return self._run_build(
            ctx,
            lambda progress: build_face_from_image(
                image_path, name=name, out_dir=out_dir, voice=voice, auto_fix=auto_fix,
                progress=progress, face_id=ctx.target_id,
            ),
        )

    def _run_build(
        self,
        ctx: JobContext,
        build: Callable[[Callable[[float, str], None]], Path],
        *,
        recheck: Path | None = None,
    ) -> tuple[Path, dict]:
        """Run one bundle build with the job's progress (5..99 %); return the bundle path and its report.

        A failed build keeps a check report on the Face so the API and portal can show every check (with
        time ranges), not just the first failure: the report the error carries, or, for a video stopped
        before its checks ran, the checks of ``recheck``.
        """
        from facecraft.faces.bundle import load_bundle

        def on_progress(fraction: float, _step: str = "") -> None:
            ctx.progress(0.05 + 0.94 * float(fraction))

        try:
            bundle_path = build(on_progress)
        except FacecraftError as exc:
            report = getattr(exc, "report", None)
            if report is None and recheck is not None and exc.error_id not in NO_REPORT_ERRORS:
                from facecraft.faces.checks import check_video

                report = check_video(recheck)
            if report is not None:
                self._save_report(ctx, report.to_dict())
            raise
        bundle = load_bundle(bundle_path)
        return Path(bundle.path), bundle.report.to_dict()

    def _save_report(self, ctx: JobContext, report: dict) -> None:
        with ctx.db.session() as session:
            face = session.get(Face, ctx.target_id)
            if face is not None:
                face.report = report

    def fail(self, session: Session, job: Job, error_id: str, message: str) -> None:
        face = session.get(Face, job.target_id)
        if face is None or face.deleted_at is not None:
            return
        face.status, face.error_id, face.error_message = "error", error_id, message
        payload = {"face_id": face.id, "status": "error", "error_message": message, "error_id": error_id}
        self.webhooks.send(face.callback_url, payload)
