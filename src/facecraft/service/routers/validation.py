"""``/v2/faces/image-validation`` and ``/v2/faces/video-validation``: the upload checks, before training.

The checks decode and track the upload, so they run in a process of their own with the job memory
budget (``facecraft.service.isolation``); the request waits for it on a thread of the server's pool.
"""

from __future__ import annotations

import base64
import binascii
import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from facecraft.errors import FacecraftError, InputError, JobBudgetError
from facecraft.service.deps import OwnerDep, RuntimeDep
from facecraft.service.face_service import VIDEO_TYPES
from facecraft.service.fetch import FetchLimits, fetch_to_file
from facecraft.service.ids import new_id
from facecraft.service.isolation import Budget, run_isolated
from facecraft.service.models import Upload
from facecraft.service.runtime import Runtime
from facecraft.service.schemas import ImageValidation, ValidationPublic, VideoValidation

__all__ = ["router"]

router = APIRouter(tags=["validation"])


def run_check(rt: Runtime, task: str, path: Path, name: str) -> dict[str, Any]:
    """Run ``facecraft.service.tasks:<task>`` on ``path`` in its own process; its report, or a clear error."""
    limits = {
        "max_video_pixels": rt.settings.max_video_pixels,
        "max_image_pixels": rt.settings.max_image_pixels,
    }
    budget = Budget(
        memory_mb=rt.settings.job_memory_mb, time_s=rt.settings.check_time_s, nice=rt.settings.job_nice
    )
    outcome = run_isolated(
        f"facecraft.service.tasks:{task}", {"path": str(path), "name": name, "limits": limits}, budget
    )
    if outcome.ending == "result":
        return dict(outcome.value)
    if outcome.ending == "error":
        raise InputError(outcome.message, error_id=outcome.error_id or "video_processing")
    if outcome.ending == "memory":
        raise JobBudgetError(f"checking the file needed more than {budget.memory_mb} MB of memory")
    if outcome.ending == "timeout":
        raise JobBudgetError(f"checking the file took longer than {budget.time_s:.0f} s")
    raise FacecraftError(f"the file could not be checked ({outcome.message})", error_id="video_processing")


@router.post("/v2/faces/image-validation", response_model=ValidationPublic, summary="Check a training photo")
@router.post("/v2/replicas/image-validation", include_in_schema=False)
def validate_image(body: ImageValidation, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    text = body.imageBase64.split(",", 1)[1] if body.imageBase64.startswith("data:") else body.imageBase64
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InputError("imageBase64 is not valid base64") from exc
    if not data:
        raise InputError("imageBase64 is empty")
    scratch = rt.storage.tmp_dir / new_id("f")
    scratch.mkdir(parents=True)
    try:
        (scratch / "photo").write_bytes(data)
        return run_check(rt, "check_image_task", scratch / "photo", "photo")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@router.post(
    "/v2/faces/video-validation",
    response_model=ValidationPublic,
    summary="Check a training video (upload id or URL)",
)
@router.post("/v2/replicas/video-validation", include_in_schema=False)
def validate_video(body: VideoValidation, owner: OwnerDep, rt: RuntimeDep) -> dict[str, Any]:
    if (body.train_video_url is None) == (body.train_video_upload_id is None):
        raise InputError("give exactly one of train_video_url or train_video_upload_id")
    scratch: Path | None = None
    try:
        if body.train_video_upload_id is not None:
            with rt.db.session() as session:
                upload = session.get(Upload, body.train_video_upload_id)
                if upload is None or upload.owner_id != owner:
                    raise InputError(f"unknown upload id {body.train_video_upload_id!r}")
                path, name = Path(upload.path), upload.file_name
        else:
            scratch = rt.storage.tmp_dir / new_id("f")
            limits = FetchLimits(
                max_bytes=rt.settings.max_fetch_bytes,
                timeout_s=rt.settings.fetch_timeout_s,
                allow_private=rt.settings.allow_private_urls,
                content_types=VIDEO_TYPES,
            )
            path = fetch_to_file(body.train_video_url or "", scratch / "video", limits=limits).path
            name = "video"
        return run_check(rt, "check_video_task", path, name)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
