"""``/v2/faces/image-validation`` and ``/v2/faces/video-validation``: the upload checks, before training."""

from __future__ import annotations

import base64
import binascii
import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from facecraft.errors import FacecraftError
from facecraft.service.deps import OwnerDep, RuntimeDep
from facecraft.service.errors import BadRequest
from facecraft.service.face_service import VIDEO_TYPES
from facecraft.service.fetch import FetchLimits, fetch_to_file
from facecraft.service.ids import new_id
from facecraft.service.models import Upload
from facecraft.service.schemas import ImageValidation, ValidationPublic, VideoValidation

__all__ = ["router", "report_view"]

router = APIRouter(tags=["validation"])


def report_view(report: Any) -> dict[str, Any]:
    """``{passed, checks: [{id, label, passed, ...}], details}`` from a ``faces.types.CheckReport``."""
    details = report.to_dict()
    checks = [
        {
            "id": c["id"],
            "label": c["label"],
            "passed": c["status"] != "fail",
            "status": c["status"],
            "message": c["message"],
            "ranges": c["ranges"],
        }
        for c in details["checks"]
    ]
    return {"passed": report.passed, "checks": checks, "details": details}


@router.post("/v2/faces/image-validation", response_model=ValidationPublic, summary="Check a training photo")
@router.post("/v2/replicas/image-validation", include_in_schema=False)
def validate_image(body: ImageValidation, owner: OwnerDep) -> dict[str, Any]:
    from facecraft.faces.checks import check_image

    text = body.imageBase64.split(",", 1)[1] if body.imageBase64.startswith("data:") else body.imageBase64
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("imageBase64 is not valid base64", error_id="invalid_input") from exc
    if not data:
        raise BadRequest("imageBase64 is empty")
    try:
        return report_view(check_image(data))
    except FacecraftError as exc:
        raise BadRequest(exc.message, error_id=exc.error_id) from exc


@router.post(
    "/v2/faces/video-validation",
    response_model=ValidationPublic,
    summary="Check a training video (upload id or URL)",
)
@router.post("/v2/replicas/video-validation", include_in_schema=False)
def validate_video(body: VideoValidation, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    from facecraft.faces.checks import check_video

    if (body.train_video_url is None) == (body.train_video_upload_id is None):
        raise BadRequest("give exactly one of train_video_url or train_video_upload_id")
    scratch: Path | None = None
    try:
        if body.train_video_upload_id is not None:
            with rt.db.session() as session:
                upload = session.get(Upload, body.train_video_upload_id)
                if upload is None or upload.owner_id != owner:
                    raise BadRequest(f"unknown upload id {body.train_video_upload_id!r}")
                path = Path(upload.path)
        else:
            scratch = rt.storage.tmp_dir / new_id("f")
            limits = FetchLimits(
                max_bytes=rt.settings.max_fetch_bytes,
                timeout_s=rt.settings.fetch_timeout_s,
                allow_private=rt.settings.allow_private_urls,
                content_types=VIDEO_TYPES,
            )
            try:
                path = fetch_to_file(body.train_video_url or "", scratch / "video", limits=limits).path
            except FacecraftError as exc:
                raise BadRequest(exc.message, error_id=exc.error_id) from exc
        return report_view(check_video(path))
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
